//go:build race

package plans

// raceEnabled is true when the race detector is on, which makes the phone
// library about ten times slower; long equivalence checks run fewer cases.
const raceEnabled = true
