package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cap"
)

// The notice that a LIVE call-up ended is no alert of its own: its CAP is
// the Cancel the stand-down made of the call-up's alert, the very document
// the call-up serves, where it was a second Cancel of the same alert
// under another identifier and note, which a receiver polling each
// activation would take for two endings.
func TestAnEndNoticeServesItsCallUpsCancel(t *testing.T) {
	xmllintPath(t)
	c := newConsoleCallUps(t)
	live, end := standDownWithEndNotice(t, c, "雨势减弱，解除四级响应")

	get := func(id string) []byte {
		res := do(t, c.h, request{method: "GET", path: "/api/v1/activations/" + id + "/cap", token: c.f.root})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		requireSchemaValid(t, res.Body.Bytes())
		return res.Body.Bytes()
	}
	ended := get(string(live.ID))
	a, err := cap.Parse(ended)
	require.NoError(t, err)
	assert.Equal(t, cap.MsgTypeCancel, a.MsgType)
	assert.Equal(t, "雨势减弱，解除四级响应", a.Note)
	assert.Equal(t, string(ended), string(get(string(end.ID))), "the end notice serves the call-up's Cancel")
}
