package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// muster status says how a voice step's calls went, in a fixed order.
func TestCallsText(t *testing.T) {
	assert.Equal(t, "", callsText(nil))
	assert.Equal(t, "calls: answered 4, machine 1, no-answer 1", callsText(map[string]int{"no-answer": 1, "machine": 1, "answered": 4}))
	assert.Equal(t, "calls: busy 2, ringing 1, other 1", callsText(map[string]int{"other": 1, "ringing": 1, "busy": 2, "failed": 0}))
}
