//go:build race

package notify_test

// raceDetector is set when the tests run under -race, which makes the
// cluster several times slower: the largest tests scale down under it and
// run at full size in the plain run .ci/run adds.
const raceDetector = true
