package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
)

func TestNotesAndInboundAudit(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	a := boardCallUp(t, f, h, 200, "990101")
	const acct = "AC00000000000000000000000000000002"
	in := notify.NewInbound(f.c.Leader().Node, notify.InboundConfig{Exercise: []string{acct}})
	t.Cleanup(in.Close)
	r := boardReply(t, f, h, a.ID, "1")
	out, err := in.Submit(ctx(t), notify.InboundItem{Kind: notify.InboundReply, SID: "SMnote", From: r.Phone, Body: "几点集合？", Account: acct})
	require.NoError(t, err)
	require.Equal(t, notify.InboundNote, out.Outcome)
	out, err = in.Submit(ctx(t), notify.InboundItem{Kind: notify.InboundReply, SID: "SMstranger", From: "+8613900000001", Body: "1", Account: acct})
	require.NoError(t, err)
	require.Equal(t, notify.InboundUnknown, out.Outcome)

	res := do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(a.ID) + "/notes", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var notes struct{ Items []notify.Note }
	res.decode(t, &notes)
	require.Len(t, notes.Items, 1)
	assert.Equal(t, "几点集合？", notes.Items[0].Body)
	assert.Equal(t, r.Person, notes.Items[0].Person)

	res = do(t, h, request{method: "GET", path: "/api/v1/inbound/audit", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var audit struct{ Items []notify.InboundRecord }
	res.decode(t, &audit)
	require.Len(t, audit.Items, 1)
	assert.Equal(t, notify.InboundUnknown, audit.Items[0].Outcome)
	assert.Equal(t, "+8613900000001", audit.Items[0].From)

	res = do(t, h, request{method: "GET", path: "/api/v1/inbound/audit?after=1", token: f.root})
	res.decode(t, &audit)
	assert.Empty(t, audit.Items)
	res = do(t, h, request{method: "GET", path: "/api/v1/inbound/audit?after=x", token: f.root})
	assert.Equal(t, http.StatusBadRequest, res.Code)
	res = do(t, h, request{method: "GET", path: "/api/v1/activations/A999999/notes", token: f.root})
	assert.Equal(t, http.StatusNotFound, res.Code)
}
