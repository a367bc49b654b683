package api_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/examples"
	"muster/notify"
)

// POST /activations/:id/retract with dry_run says what the retraction
// would do (the correction's people, its text, the call-ups in force that
// called some of them) and commits nothing; without it, it retracts.
func TestRetractDryRunCommitsNothing(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, 300, 3, examples.Grids(regions)))
	res := do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990101"}, "level": "IV", "purpose": "EXERCISE", "reason": "防汛通讯演练"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var a notify.Activation
	res.decode(t, &a)
	path := "/api/v1/activations/" + string(a.ID) + "/retract"

	res = do(t, h, request{method: "POST", path: path, token: f.root, body: jsonBody(map[string]any{"message": "演练通知发错，请忽略。", "dry_run": true})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var p notify.RetractPreview
	res.decode(t, &p)
	assert.Equal(t, a.ID, p.Activation.ID)
	assert.Contains(t, p.Text, "【更正】关于")
	assert.Contains(t, p.Text, "演练通知发错，请忽略。")
	assert.NotNil(t, p.Standing, "a list, empty when no call-up in force called the same people")
	assert.Zero(t, p.Recipients, "no dispatcher here: nobody was reached")

	res = do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(a.ID), token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var st notify.ActivationStatus
	res.decode(t, &st)
	assert.Nil(t, st.Retraction, "a dry run retracts nothing")
	assert.Equal(t, notify.StatusActive, st.Status)

	res = do(t, h, request{method: "POST", path: path, token: f.root, body: jsonBody(map[string]any{"message": "", "dry_run": true})})
	assert.Equal(t, http.StatusBadRequest, res.Code, "a dry run checks the words as the retraction does: %s", res.Body)

	res = do(t, h, request{method: "POST", path: path, token: f.root, body: jsonBody(notify.RetractRequest{Message: "演练通知发错，请忽略。"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var out notify.RetractResult
	res.decode(t, &out)
	assert.Equal(t, a.ID, out.Correction.Retracts)
	res = do(t, h, request{method: "POST", path: path, token: f.root, body: jsonBody(map[string]any{"message": "again", "dry_run": true})})
	assert.Equal(t, http.StatusConflict, res.Code, "a dry run refuses what the retraction would: %s", res.Body)
}
