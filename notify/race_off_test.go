//go:build !race

package notify_test

// raceDetector is set when the tests run under -race (see race_on_test.go).
const raceDetector = false
