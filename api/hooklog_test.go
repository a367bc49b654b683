package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/api"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/notify/twiliosim"
)

// takeAll is a Webhooks that takes every item of one account.
type takeAll struct{ sid, token string }

func (w takeAll) AuthToken(sid string) (string, bool) { return w.token, sid == w.sid }
func (w takeAll) Submit(context.Context, notify.InboundItem) (notify.InboundResult, error) {
	return notify.InboundResult{Outcome: notify.InboundUnchanged}, nil
}
func (w takeAll) VoiceScript(context.Context, string) (notify.VoiceScript, error) {
	return notify.VoiceScript{}, nil
}

// TestTakenWebhooksAreNotLoggedOneByOne: a delivery report that is taken
// writes no log line at the default level (a large call-up brings millions);
// one refused for its signature does. Both are counted in /metrics.
func TestTakenWebhooksAreNotLoggedOneByOne(t *testing.T) {
	const public, sid, token = "https://muster.example", "AC00000000000000000000000000000009", "secret"
	var logs syncBuffer
	c := clustertest.New(t, 1, clustertest.Options{})
	h := api.New(api.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)), PublicURL: public},
		api.Deps{Cluster: c.Leader().Node, Webhooks: takeAll{sid, token}}).Handler()
	post := func(signature string) int {
		path := "/hooks/twilio/sms-status?attempt=A000001.P1.1"
		form := url.Values{"AccountSid": {sid}, "MessageSid": {"SM1"}, "MessageStatus": {"delivered"}}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if signature == "" {
			signature = twiliosim.Signature(token, public+path, form)
		}
		req.Header.Set("X-Twilio-Signature", signature)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	require.Less(t, post(""), 300)
	assert.NotContains(t, logs.String(), "http request", "a taken webhook is not logged")
	require.Equal(t, http.StatusForbidden, post("bad"))
	assert.Contains(t, logs.String(), "status=403", "a refused webhook is logged")

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Regexp(t, `muster_webhooks_total\{code="2\d\d",route="/hooks/twilio/sms-status"\} 1\n`, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `muster_webhooks_total{code="403",route="/hooks/twilio/sms-status"} 1`+"\n")
}
