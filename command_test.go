package muster

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCommandRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		cmd  Command
	}{
		{"empty", Command{}},
		{"full", Command{Type: "person.upsert", ID: "0123abcd", Time: time.Date(2026, 11, 23, 9, 0, 0, 123, time.UTC), Actor: "值班员", Payload: []byte(`{"name":"张三"}`), Ignorable: true}},
		{"binary payload", Command{Type: "x", Payload: []byte{0, 1, 2, 255}}},
		{"rules", Command{Type: "x", Rules: Rules, Ignorable: true}},
		{"most rules", Command{Type: "x", Rules: maxRules}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.cmd.MarshalBinary()
			require.NoError(t, err)
			var got Command
			require.NoError(t, got.UnmarshalBinary(b))
			assert.Equal(t, tt.cmd, got)
		})
	}
}

func TestCommandDecodeRejectsBadInput(t *testing.T) {
	good, err := (&Command{Type: "t", ID: "i", Payload: []byte("p")}).MarshalBinary()
	require.NoError(t, err)
	tests := map[string][]byte{
		"empty":          nil,
		"wrong version":  append([]byte{9}, good[1:]...),
		"truncated":      good[:len(good)-1],
		"trailing bytes": append(append([]byte(nil), good...), 0),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			var c Command
			assert.Error(t, c.UnmarshalBinary(b))
		})
	}
}

// Rules ride in the flags byte's upper bits: a decoder from before them
// (which read bit 0 and ignored the rest) still reads Ignorable right, and
// an entry from before them reads as rules 1.
func TestCommandRules(t *testing.T) {
	b, err := (&Command{Type: "t", Rules: 2, Ignorable: true}).MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, byte(2<<1|1), b[1])
	old, err := (&Command{Type: "t"}).MarshalBinary()
	require.NoError(t, err)
	var c Command
	require.NoError(t, c.UnmarshalBinary(old))
	assert.Zero(t, c.Rules)
	assert.True(t, c.RulesAtLeast(1))
	assert.False(t, c.RulesAtLeast(2))
	_, err = (&Command{Type: "t", Rules: maxRules + 1}).MarshalBinary()
	assert.Error(t, err)
}

func FuzzCommandDecode(f *testing.F) {
	b, _ := (&Command{Type: "t", ID: "i", Actor: "a", Payload: []byte("p")}).MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Command
		if c.UnmarshalBinary(data) != nil {
			return
		}
		again, err := c.MarshalBinary()
		require.NoError(t, err)
		var d Command
		require.NoError(t, d.UnmarshalBinary(again))
		assert.Equal(t, c, d)
	})
}

func TestErrorCode(t *testing.T) {
	assert.Equal(t, "", ErrorCode(nil))
	assert.Equal(t, EConflict, ErrorCode(Errorf(EConflict, "dup")))
	assert.Equal(t, EInternal, ErrorCode(assert.AnError))
	_, err := ParseConsistency("eventual")
	assert.True(t, IsCode(err, EInvalid))
	c, err := ParseConsistency("")
	require.NoError(t, err)
	assert.Equal(t, Default, c)
}
