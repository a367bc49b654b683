package notify

import (
	"context"
	"errors"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/twilio/twilio-go/client"
)

func TestClassifyTwilio(t *testing.T) {
	rest := func(status, code int) error {
		return &client.TwilioRestError{Status: status, Code: code, Message: "m"}
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name       string
		ctx        context.Context
		err        error
		status     int
		retryAfter string
		want       SendError // Err and Message are not compared
	}{
		{name: "throttled", err: rest(429, 20429), status: 429, retryAfter: "2", want: SendError{Code: 20429, HTTPStatus: 429, Temporary: true, RetryAfter: 2 * time.Second}},
		{name: "invalid number", err: rest(400, 21211), status: 400, want: SendError{Code: 21211, HTTPStatus: 400}},
		{name: "not mobile", err: rest(400, 21614), status: 400, want: SendError{Code: 21614, HTTPStatus: 400}},
		{name: "unsubscribed", err: rest(400, 21610), status: 400, want: SendError{Code: 21610, HTTPStatus: 400}},
		{name: "unroutable", err: rest(400, 21612), status: 400, want: SendError{Code: 21612, HTTPStatus: 400}},
		{name: "body too long", err: rest(400, 21617), status: 400, want: SendError{Code: 21617, HTTPStatus: 400}},
		{name: "sender queue full", err: rest(400, 21611), status: 400, want: SendError{Code: 21611, HTTPStatus: 400, Temporary: true}},
		// The account itself refused: retried, and an outage of the account.
		{name: "bad credentials", err: rest(401, 20003), status: 401, want: SendError{Code: 20003, HTTPStatus: 401, Temporary: true, Account: true}},
		{name: "account suspended", err: rest(401, 20005), status: 401, want: SendError{Code: 20005, HTTPStatus: 401, Temporary: true, Account: true}},
		{name: "account closed", err: rest(403, 10001), status: 403, want: SendError{Code: 10001, HTTPStatus: 403, Temporary: true, Account: true}},
		{name: "HTML 401", err: errors.New("error decoding the response for an HTTP error code: 401"), status: 401, want: SendError{HTTPStatus: 401, Temporary: true, Account: true}},
		{name: "credentials refused before HTTP", err: rest(400, 21224), want: SendError{Code: 21224, HTTPStatus: 400}},
		{name: "server error", err: rest(500, 20500), status: 500, want: SendError{Code: 20500, HTTPStatus: 500, Temporary: true}},
		{name: "429 without code", err: rest(429, 0), status: 429, want: SendError{HTTPStatus: 429, Temporary: true}},
		{name: "HTML 503", err: errors.New("error decoding the response for an HTTP error code: 503"), status: 503, want: SendError{HTTPStatus: 503, Temporary: true}},
		{name: "HTML 404", err: errors.New("error decoding the response for an HTTP error code: 404"), status: 404, want: SendError{HTTPStatus: 404}},
		{name: "connection refused", err: &url.Error{Op: "Post", URL: "http://x", Err: syscall.ECONNREFUSED}, want: SendError{Temporary: true}},
		{name: "caller canceled", ctx: canceled, err: &url.Error{Op: "Post", URL: "http://x", Err: context.Canceled}, want: SendError{Temporary: true}},
		{name: "undecodable 201", err: errors.New("unexpected EOF"), status: 201, want: SendError{HTTPStatus: 201, Temporary: true}},
		// Call creates answer with the same body and are classified alike.
		{name: "call: no From", err: rest(400, 21213), status: 400, want: SendError{Code: 21213, HTTPStatus: 400}},
		{name: "call: bad Url", err: rest(400, 21205), status: 400, want: SendError{Code: 21205, HTTPStatus: 400}},
		{name: "call: destination blocked", err: rest(400, 21216), status: 400, want: SendError{Code: 21216, HTTPStatus: 400}},
		{name: "call: invalid number", err: rest(400, 21217), status: 400, want: SendError{Code: 21217, HTTPStatus: 400}},
		{name: "call: throttled", err: rest(429, 20429), status: 429, retryAfter: "1", want: SendError{Code: 20429, HTTPStatus: 429, Temporary: true, RetryAfter: time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			got := classifyTwilio(ctx, tc.err, &twilioCall{status: tc.status, retryAfter: tc.retryAfter})
			assert.Equal(t, tc.want.Code, got.Code)
			assert.Equal(t, tc.want.HTTPStatus, got.HTTPStatus)
			assert.Equal(t, tc.want.Temporary, got.Temporary)
			assert.Equal(t, tc.want.Account, got.Account, "refuses the account")
			if tc.want.Account {
				assert.True(t, outage(got), "an outage of the account")
			}
			assert.Equal(t, tc.want.RetryAfter, got.RetryAfter)
			assert.Equal(t, tc.want.Temporary, IsTemporary(got))
			assert.NotEmpty(t, got.Error())
		})
	}
}

// twilio-go names the URL it built; the request went to the configured
// API URL (--twilio-api-url), and the error names that one.
func TestClassifyTwilioNamesTheURLTheRequestWentTo(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:27099")
	err := &url.Error{Op: "Post", URL: "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json", Err: syscall.ECONNREFUSED}
	got := classifyTwilio(context.Background(), err, &twilioCall{base: base})
	assert.Contains(t, got.Message, `Post "http://127.0.0.1:27099/2010-04-01/Accounts/AC1/Messages.json"`)
	assert.NotContains(t, got.Message, "api.twilio.com")
	got = classifyTwilio(context.Background(), err, &twilioCall{})
	assert.Contains(t, got.Message, "https://api.twilio.com/", "no API URL configured: Twilio's")
}

func TestTemporaryCode(t *testing.T) {
	for code, want := range map[int]bool{
		20429: true, 20500: true, 20503: true, 21611: true, 30001: true, 30003: true, 30008: true, 30410: true,
		20003: false, 21211: false, 21610: false, 21612: false, 21614: false, 21617: false,
		30004: false, 30005: false, 30006: false, 30007: false, 30036: false,
	} {
		assert.Equal(t, want, TemporaryCode(code), "code %d", code)
	}
}
