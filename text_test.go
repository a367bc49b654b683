package muster

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckPlainText(t *testing.T) {
	for _, tc := range []struct {
		text  string
		lines bool
		bad   string // a substring of the error; "" for none
	}{
		{"暴雨红色预警，立即到岗", false, ""},
		{"", false, ""},
		{"含替换字符\uFFFD的原文", false, ""},
		{"第一行\n第二行", true, ""},
		{"第一行\n第二行", false, "U+000A"},
		{"\x1b[2J\x1b[31m全部撤离", false, "U+001B"},
		{"tab\there", false, "U+0009"},
		{"tab\there", true, ""},
		{"windows\r\nlines", true, ""},
		{"lone\rreturn", true, "U+000D"},
		{"bell\a", false, "U+0007"},
		{"nel\u0085", false, "U+0085"},
		{"line\u2028sep", true, "U+2028"},
		{"bad \xff byte", false, "not valid UTF-8 at byte 4"},
		// Invisible formatting hides or reorders what people read.
		{"演\u200b练", false, "invisible formatting character U+200B"},
		{"真实\u202e警报", false, "U+202E"},
		{"\ufeff暴雨", false, "U+FEFF"},
		{"isolate\u2066x\u2069", false, "U+2066"},
		{"家庭👨\u200d👩\u200d👧", false, ""}, // emoji are made with zero-width joiners
		{"soft\u00adhyphen", false, "U+00AD"},
	} {
		err := CheckPlainText("reason", tc.text, tc.lines)
		if tc.bad == "" {
			assert.NoError(t, err, "%q", tc.text)
			continue
		}
		if assert.Error(t, err, "%q", tc.text) {
			assert.Equal(t, EInvalid, ErrorCode(err))
			assert.Contains(t, err.Error(), "reason: ")
			assert.Contains(t, err.Error(), tc.bad)
		}
	}
}
