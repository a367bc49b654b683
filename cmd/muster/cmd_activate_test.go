package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"muster/plans"
)

// Region codes are read each once, and what to type to confirm is each
// region once, however they were written.
func TestCodeList(t *testing.T) {
	assert.Equal(t, []plans.RegionCode{"990101", "990102"}, codeList(" 990101,990102, 990101 ,,"))
	assert.Equal(t, "990101,990102", joinCodes(codeList("990101, 990102\n")))
	assert.Empty(t, codeList(" , "))
}
