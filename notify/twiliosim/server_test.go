package twiliosim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

func TestCreateDecodedByTwilioGoAndCallbacksSigned(t *testing.T) {
	r := startSim(t, Config{})
	rc := newReceiver(t, testToken)
	cb := rc.ts.URL + "/hooks/twilio/sms-status?attempt=A1"

	m, err := r.client(t).Api.CreateMessage(sms("+8613800138000", "【演练】请回复1报到", cb))
	require.NoError(t, err)
	require.NotNil(t, m.Sid)
	assert.Regexp(t, `^SM[0-9a-f]{32}$`, *m.Sid)
	assert.Equal(t, "queued", *m.Status)
	assert.Equal(t, "1", *m.NumSegments)
	assert.Equal(t, "+8613800138000", *m.To)
	assert.Equal(t, fromNum, *m.From)
	assert.Equal(t, testSID, *m.AccountSid)
	assert.Equal(t, "outbound-api", *m.Direction)
	assert.Nil(t, m.ErrorCode)
	assert.Nil(t, m.Price)
	created, err := time.Parse(time.RFC1123Z, *m.DateCreated)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), created, time.Minute)

	eventually(t, "sent and delivered callbacks", func() bool { return len(rc.statuses(*m.Sid)) == 2 })
	// Callbacks may arrive out of order (the next status does not wait for
	// the previous callback), as Twilio's may.
	assert.ElementsMatch(t, []string{"sent", "delivered"}, rc.statuses(*m.Sid))
	for _, h := range rc.all() {
		assert.True(t, h.Valid, "signature of %v", h.Params)
		assert.Equal(t, cb, h.URL)
		assert.Equal(t, *m.Sid, h.Params["SmsSid"])
		assert.Equal(t, h.Params["MessageStatus"], h.Params["SmsStatus"])
		assert.Equal(t, "2010-04-01", h.Params["ApiVersion"])
		assert.Equal(t, testSID, h.Params["AccountSid"])
		assert.NotContains(t, h.Params, "ErrorCode")
	}

	f, err := r.client(t).Api.FetchMessage(*m.Sid, &api.FetchMessageParams{})
	require.NoError(t, err)
	assert.Equal(t, "delivered", *f.Status)
	require.NotNil(t, f.Price)
	assert.Equal(t, "-0.0075", *f.Price)
	require.NotNil(t, f.DateSent)

	eventually(t, "callbacks counted", func() bool { return r.sim.Stats().CallbacksSent == 2 })
	st := r.sim.Stats()
	assert.EqualValues(t, 1, st.Created)
	assert.EqualValues(t, 1, st.Delivered)
	assert.EqualValues(t, 1, st.Accounts[testSID].Created)
}

func TestSegmentsOfLongChineseBody(t *testing.T) {
	r := startSim(t, Config{})
	m, err := r.client(t).Api.CreateMessage(sms("+8613800138000", strings.Repeat("紧急集结", 20), ""))
	require.NoError(t, err)
	assert.Equal(t, "2", *m.NumSegments) // 80 UCS-2 chars: two parts of 67
}

func TestMessagingService(t *testing.T) {
	r := startSim(t, Config{})
	p := &api.CreateMessageParams{}
	p.SetTo("+8613800138000").SetMessagingServiceSid("MG00000000000000000000000000000001").SetBody("1")
	m, err := r.client(t).Api.CreateMessage(p)
	require.NoError(t, err)
	assert.Equal(t, "accepted", *m.Status)
	assert.Equal(t, "0", *m.NumSegments)
	assert.Nil(t, m.From)
	eventually(t, "delivered", func() bool { got, _ := r.sim.Message(*m.Sid); return got.Status == StatusDelivered })
	got, _ := r.sim.Message(*m.Sid)
	assert.Equal(t, defaultNumber, got.From)
}

func TestValidationErrors(t *testing.T) {
	r := startSim(t, Config{})
	long := strings.Repeat("a", 1601)
	tests := []struct {
		name string
		p    *api.CreateMessageParams
		code int
	}{
		{"not E.164", sms("13800138000", "x", ""), 21211},
		{"letters", sms("+86138abc", "x", ""), 21211},
		{"body over 1600", sms("+8613800138000", long, ""), 21617},
		{"no body", (&api.CreateMessageParams{}).SetTo("+8613800138000").SetFrom(fromNum), 21602},
		{"no sender", (&api.CreateMessageParams{}).SetTo("+8613800138000").SetBody("x"), 21603},
		{"no To", (&api.CreateMessageParams{}).SetFrom(fromNum).SetBody("x"), 21604},
		{"underscore in callback host", sms("+8613800138000", "x", "http://bad_host.example/cb"), 21609},
		{"relative callback", sms("+8613800138000", "x", "/cb"), 21609},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.client(t).Api.CreateMessage(tc.p)
			var te *client.TwilioRestError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tc.code, te.Code)
			assert.Equal(t, 400, te.Status)
		})
	}
	assert.EqualValues(t, 0, r.sim.Stats().Created)
	assert.EqualValues(t, 2, r.sim.Stats().Rejected[21211])
}

func TestWrongCredentials(t *testing.T) {
	r := startSim(t, Config{})
	tests := []struct{ name, sid, token, pathSID string }{
		{"wrong token", testSID, "wrongtoken1", ""},
		{"unknown account", "AC0000000000000000000000000000ffff", testToken, ""},
		{"other account's path", testSID, testToken, otherSID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := sms("+8613800138000", "x", "")
			if tc.pathSID != "" {
				p.SetPathAccountSid(tc.pathSID)
			}
			_, err := r.twilioClient(tc.sid, tc.token, 5*time.Second).Api.CreateMessage(p)
			var te *client.TwilioRestError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, 20003, te.Code)
			assert.Equal(t, 401, te.Status)
		})
	}
	assert.EqualValues(t, 3, r.sim.Stats().Unauthorized)
}

func TestThrottleAboveMPS(t *testing.T) {
	r := startSim(t, Config{MPS: 5})
	c := r.client(t)
	var ok, throttled int
	for range 20 {
		_, err := c.Api.CreateMessage(sms("+8613800138000", "x", ""))
		var te *client.TwilioRestError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &te):
			require.Equal(t, 20429, te.Code, err)
			require.Equal(t, 429, te.Status)
			throttled++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	// A 5/s bucket with a burst of 5 admits 5, plus one per 200ms elapsed.
	assert.GreaterOrEqual(t, ok, 5)
	assert.Less(t, ok, 20)
	assert.Equal(t, 20-ok, throttled)
	assert.EqualValues(t, throttled, r.sim.Stats().Accounts[testSID].Throttled)

	// The raw answer carries Retry-After; the other account has its own bucket.
	var retryAfter string
	for range 10 {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, r.ts.URL+"/2010-04-01/Accounts/"+testSID+"/Messages.json",
			strings.NewReader(url.Values{"To": {"+8613800138000"}, "From": {fromNum}, "Body": {"x"}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(testSID, testToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			retryAfter = resp.Header.Get("Retry-After")
			break
		}
	}
	assert.Equal(t, "1", retryAfter)
	_, err := r.twilioClient(otherSID, otherTok, 5*time.Second).Api.CreateMessage(
		sms("+8613800138000", "x", "").SetPathAccountSid(otherSID))
	require.NoError(t, err)
}

func TestFailureRules(t *testing.T) {
	rules := []Rule{
		{Prefix: "+8617000", Outcome: OutcomeReject, Code: 21614},
		{Prefix: "+8617001", Outcome: OutcomeReject, Code: 21610},
		{Match: regexp.MustCompile(`^\+8617002`), Outcome: OutcomeUndelivered, Code: 30003},
		{Prefix: "+8617003", Outcome: OutcomeFailed, Code: 30008},
		{Prefix: "+8617004", Outcome: OutcomeSilent},
		{Prefix: "+8617005", Outcome: OutcomeSlow, Delay: 300 * time.Millisecond},
	}
	r := startSim(t, Config{Rules: rules})
	rc := newReceiver(t, testToken)
	c := r.client(t)

	for _, tc := range []struct {
		to   string
		code int
	}{{"+8617000000001", 21614}, {"+8617001000001", 21610}} {
		_, err := c.Api.CreateMessage(sms(tc.to, "x", rc.ts.URL))
		var te *client.TwilioRestError
		require.ErrorAs(t, err, &te, tc.to)
		assert.Equal(t, tc.code, te.Code)
		assert.Equal(t, 400, te.Status)
	}

	send := func(to string) string {
		m, err := c.Api.CreateMessage(sms(to, "x", rc.ts.URL+"/cb"))
		require.NoError(t, err)
		return *m.Sid
	}
	undelivered, failed, silent, slow := send("+8617002000001"), send("+8617003000001"), send("+8617004000001"), send("+8617005000001")
	control := send("+8613800138000")

	eventually(t, "final callbacks", func() bool {
		return len(rc.statuses(undelivered)) == 2 && len(rc.statuses(failed)) == 1 &&
			len(rc.statuses(control)) == 2 && len(rc.statuses(slow)) == 2
	})
	assert.Equal(t, []string{"sent", "undelivered"}, rc.statuses(undelivered))
	assert.Equal(t, []string{"failed"}, rc.statuses(failed))
	assert.Equal(t, []string{"sent"}, rc.statuses(silent))
	for _, h := range rc.all() {
		assert.True(t, h.Valid)
		switch h.Params["MessageSid"] {
		case undelivered:
			if h.Params["MessageStatus"] == "undelivered" {
				assert.Equal(t, "30003", h.Params["ErrorCode"])
			}
		case failed:
			assert.Equal(t, "30008", h.Params["ErrorCode"])
		}
	}
	m, err := c.Api.FetchMessage(undelivered, nil)
	require.NoError(t, err)
	require.NotNil(t, m.ErrorCode)
	assert.Equal(t, 30003, *m.ErrorCode)
	assert.Equal(t, "undelivered", *m.Status)

	got, _ := r.sim.Message(silent)
	assert.Equal(t, StatusSent, got.Status)
	st := r.sim.Stats()
	assert.EqualValues(t, 1, st.Rejected[21614])
	assert.EqualValues(t, 1, st.Undelivered)
	assert.EqualValues(t, 1, st.Failed)
	assert.EqualValues(t, 2, st.Delivered)
}

func TestCallbackRetriedAndDuplicated(t *testing.T) {
	r := startSim(t, Config{DuplicateCallbacks: true})
	rc := newReceiver(t, testToken)
	rc.fail = 2
	m, err := r.client(t).Api.CreateMessage(sms("+8613800138000", "x", rc.ts.URL+"/cb?attempt=A9"))
	require.NoError(t, err)
	eventually(t, "two copies of each status", func() bool { return len(rc.statuses(*m.Sid)) == 4 })
	assert.ElementsMatch(t, []string{"sent", "sent", "delivered", "delivered"}, rc.statuses(*m.Sid))
	// The receiver records a webhook before answering it; the simulator counts it after.
	eventually(t, "four callbacks counted", func() bool { return r.sim.Stats().CallbacksSent == 4 })
	st := r.sim.Stats()
	assert.EqualValues(t, 2, st.CallbackRetries)
	assert.EqualValues(t, 0, st.CallbacksFailed)
}

func TestCallbackGivenUp(t *testing.T) {
	r := startSim(t, Config{CallbackAttempts: 2})
	m, err := r.client(t).Api.CreateMessage(sms("+8613800138000", "x", "http://127.0.0.1:1/cb"))
	require.NoError(t, err)
	eventually(t, "both callbacks given up", func() bool { return r.sim.Stats().CallbacksFailed == 2 })
	got, _ := r.sim.Message(*m.Sid)
	assert.Equal(t, StatusDelivered, got.Status)
	assert.EqualValues(t, 2, r.sim.Stats().CallbackRetries)
}

func TestReplyProfile(t *testing.T) {
	const n = 600
	rc := newReceiver(t, testToken)
	r := startSim(t, Config{
		Accounts: []Account{{SID: testSID, AuthToken: testToken, InboundURL: rc.ts.URL + "/hooks/twilio/sms-inbound"}},
		Replies:  []ReplyRule{{Share: 0.7, Body: "1", Within: 30 * time.Second}, {Share: 0.1, Body: "2 家中有事", Within: 30 * time.Second}},
		Seed:     42, TimeScale: 0.002, // 30 s of reply window in 60 ms
	})
	c := r.client(t)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				_, err := c.Api.CreateMessage(sms(fmt.Sprintf("+86139%08d", i), "【演练】请回复1", ""))
				assert.NoError(t, err)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()

	eventually(t, "all delivered", func() bool { return r.sim.Stats().Delivered == n })
	// Who replies depends only on seed and number: count the expected replies.
	want := map[string]int{}
	for i := range n {
		x := r.sim.decide(fmt.Sprintf("+86139%08d", i), 'r')
		switch {
		case x < 0.7:
			want["1"]++
		case x < 0.8:
			want["2 家中有事"]++
		}
	}
	assert.InDelta(t, 0.7*n, want["1"], 0.07*n)
	assert.InDelta(t, 0.1*n, want["2 家中有事"], 0.04*n)

	eventually(t, "replies posted", func() bool { return len(rc.all()) == want["1"]+want["2 家中有事"] })
	got := map[string]int{}
	for _, h := range rc.all() {
		assert.True(t, h.Valid)
		assert.Equal(t, "received", h.Params["SmsStatus"])
		assert.Equal(t, fromNum, h.Params["To"])
		assert.Regexp(t, `^SM[0-9a-f]{32}$`, h.Params["MessageSid"])
		assert.Equal(t, "1", h.Params["NumSegments"])
		got[h.Params["Body"]]++
	}
	assert.Equal(t, want, got)
	eventually(t, "replies counted", func() bool { return r.sim.Stats().RepliesSent == int64(len(rc.all())) })
}

func TestScriptedReplyAndStop(t *testing.T) {
	rc := newReceiver(t, testToken)
	r := startSim(t, Config{Accounts: []Account{{SID: testSID, AuthToken: testToken, InboundURL: rc.ts.URL + "/in"}}})
	c := r.client(t)
	_, err := c.Api.CreateMessage(sms("+8613800138000", "x", ""))
	require.NoError(t, err)

	require.NoError(t, r.sim.Reply("+8613800138000", fromNum, "2 家中有事"))
	require.NoError(t, r.sim.Reply("+8613800138000", fromNum, "STOP"))
	eventually(t, "two replies", func() bool { return len(rc.all()) == 2 })
	bodies := []string{rc.all()[0].Params["Body"], rc.all()[1].Params["Body"]}
	assert.ElementsMatch(t, []string{"2 家中有事", "STOP"}, bodies)
	assert.True(t, rc.all()[0].Valid)

	_, err = c.Api.CreateMessage(sms("+8613800138000", "x", ""))
	var te *client.TwilioRestError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 21610, te.Code)
	assert.Len(t, r.sim.Messages("+8613800138000"), 1)
	assert.Len(t, r.sim.Messages(fromNum), 2) // the inbound replies
}

func TestFaults(t *testing.T) {
	r := startSim(t, Config{SlowResponse: 300 * time.Millisecond})
	c := r.client(t)
	send := func() error { _, err := c.Api.CreateMessage(sms("+8613800138000", "x", "")); return err }

	r.sim.SetFault(Fault500, time.Minute)
	var te *client.TwilioRestError
	require.ErrorAs(t, send(), &te)
	assert.Equal(t, 500, te.Status)
	assert.Equal(t, 20500, te.Code)

	r.sim.SetFault(Fault503HTML, time.Minute)
	err := send()
	require.Error(t, err)
	assert.False(t, errors.As(err, &te))
	assert.Contains(t, err.Error(), "503")

	r.sim.SetFault(FaultDrop, time.Minute)
	require.Error(t, send())

	r.sim.SetFault(FaultSlow, time.Minute)
	_, err = r.twilioClient(testSID, testToken, 50*time.Millisecond).Api.CreateMessage(sms("+8613800138000", "x", ""))
	var ue *url.Error
	require.ErrorAs(t, err, &ue)
	assert.True(t, ue.Timeout())
	eventually(t, "slow request still creates the message", func() bool { return r.sim.Stats().Created == 1 })

	r.sim.SetFault(Fault500, time.Millisecond)
	eventually(t, "fault expires", func() bool { return send() == nil })
	r.sim.SetFault(Fault500, time.Minute)
	r.sim.SetFault(FaultNone, 0)
	require.NoError(t, send())
	assert.Positive(t, r.sim.Stats().Faults)
}

func TestBoundedMemory(t *testing.T) {
	r := startSim(t, Config{MaxMessages: 10})
	c := r.client(t)
	var sids []string
	for i := range 25 {
		m, err := c.Api.CreateMessage(sms(fmt.Sprintf("+8613800%06d", i), "x", ""))
		require.NoError(t, err)
		sids = append(sids, *m.Sid)
	}
	assert.Equal(t, 10, r.sim.Stats().Stored)
	_, err := c.Api.FetchMessage(sids[0], nil)
	var te *client.TwilioRestError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, 20404, te.Code)
	_, err = c.Api.FetchMessage(sids[24], nil)
	require.NoError(t, err)
	eventually(t, "scheduler drains", func() bool { return r.sim.Stats().Pending == 0 })
}

func TestCancelQueuedMessage(t *testing.T) {
	r := startSim(t, Config{SentDelay: time.Minute})
	c := r.client(t)
	m, err := c.Api.CreateMessage(sms("+8613800138000", "x", ""))
	require.NoError(t, err)
	u, err := c.Api.UpdateMessage(*m.Sid, (&api.UpdateMessageParams{}).SetStatus("canceled"))
	require.NoError(t, err)
	assert.Equal(t, "canceled", *u.Status)
}

func TestSimEndpoints(t *testing.T) {
	r := startSim(t, Config{})
	_, err := r.client(t).Api.CreateMessage(sms("+8613800138000", "x", ""))
	require.NoError(t, err)

	resp, err := http.Get(r.ts.URL + "/_sim/stats")
	require.NoError(t, err)
	defer resp.Body.Close()
	var st Stats
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	assert.EqualValues(t, 1, st.Created)
	assert.EqualValues(t, 1, st.Accounts[testSID].Created)

	resp2, err := http.Get(r.ts.URL + "/_sim/messages?to=%2B8613800138000")
	require.NoError(t, err)
	defer resp2.Body.Close()
	var ms []Message
	require.NoError(t, json.NewDecoder(resp2.Body).Decode(&ms))
	require.Len(t, ms, 1)
	assert.Equal(t, "x", ms[0].Body)

	resp3, err := http.Get(r.ts.URL + "/2010-04-01/Nope.json")
	require.NoError(t, err)
	resp3.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp3.StatusCode)
}

func TestSignatureVectors(t *testing.T) {
	acct := "AC00000000000000000000000000000001"
	tests := []struct {
		name, token, url string
		params           url.Values
		want             string
	}{
		{"status callback", "simtoken123", "https://muster.example.com/hooks/twilio/sms-status?attempt=A1",
			url.Values{"AccountSid": {acct}, "ApiVersion": {"2010-04-01"}, "From": {"+15005550006"},
				"MessageSid": {"SM00000000000000000000000000000001"}, "MessageStatus": {"delivered"},
				"SmsSid": {"SM00000000000000000000000000000001"}, "SmsStatus": {"delivered"}, "To": {"+8613800138000"}},
			"lSghLoPvHd7bKSfhQpXrzQNF1ls="},
		{"gather with port", "0123456789abcdef0123456789abcdef", "https://muster.example.com:443/hooks/twilio/voice/gather?attempt=A2",
			gather(acct), "UdfHo6woVyKF80KwF4B80aeQgds="},
		{"gather without port", "0123456789abcdef0123456789abcdef", "https://muster.example.com/hooks/twilio/voice/gather?attempt=A2",
			gather(acct), "lDCsFcOhPKIiDQQs85T9T2KSIf8="},
		{"json body, URL only", "simtoken123",
			"https://muster.example.com/hooks/twilio/json?bodySHA256=7cd5520c4a1854d72c369bd69561508feca1245898aa8e52c2a69f0bf474f3d1",
			nil, "B41NN1kk2CDr1Jw8GAuTQmURbvU="},
		{"inbound UTF-8", "0123456789abcdef0123456789abcdef", "https://muster.example.com/hooks/twilio/sms-inbound",
			url.Values{"AccountSid": {acct}, "ApiVersion": {"2010-04-01"}, "Body": {"收到 1"}, "From": {"+8613800138000"},
				"MessageSid": {"SM00000000000000000000000000000003"}, "NumMedia": {"0"}, "NumSegments": {"1"},
				"SmsStatus": {"received"}, "To": {"+15005550006"}},
			"haUYb8xXX9tHo/sXdSKZIJ3BCD0="},
		{"twilio-go fixture", "12345", "https://mycompany.com/myapp.php?foo=1&bar=2",
			url.Values{"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"}, "Caller": {"+14158675309"},
				"From": {"+14158675309"}, "ReasonConferenceEnded": {"test"}, "Reason": {"Participant"}},
			"vOEb5UThFn24KEfnOFLQY2AE5FY="},
		{"earlier notes", "tok", "http://127.0.0.1:1/hooks/twilio/sms-status",
			url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}}, "gUOq4WiUnrv7wjTDlZlQOGyY8Q8="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Signature(tc.token, tc.url, tc.params))
			v := client.NewRequestValidator(tc.token)
			params := map[string]string{}
			for k, vs := range tc.params {
				params[k] = vs[0]
			}
			assert.True(t, v.Validate(tc.url, params, Signature(tc.token, tc.url, tc.params)))
		})
	}
}

func gather(acct string) url.Values {
	return url.Values{"AccountSid": {acct}, "ApiVersion": {"2010-04-01"}, "CallSid": {"CA00000000000000000000000000000002"},
		"CallStatus": {"in-progress"}, "Digits": {"1"}, "Direction": {"outbound-api"}, "From": {"+15005550006"}, "To": {"+8613800138000"}}
}

func TestParseRule(t *testing.T) {
	testParse(t, ParseRule, (*Rule).matches, []parseCase[Rule]{
		{spec: "+8617000=reject:21614", want: Rule{Prefix: "+8617000", Outcome: OutcomeReject, Code: 21614}},
		{spec: "+8617002=undelivered:30003", want: Rule{Prefix: "+8617002", Outcome: OutcomeUndelivered, Code: 30003}},
		{spec: "+8617004=silent", want: Rule{Prefix: "+8617004", Outcome: OutcomeSilent}},
		{spec: "+8617005=slow:45s", want: Rule{Prefix: "+8617005", Outcome: OutcomeSlow, Delay: 45 * time.Second}},
		{spec: "re:^\\+86170[0-4]=failed:30008", hit: "+8617003123", miss: "+8617053123"},
		{spec: "+86=reject", wantErr: "needs a Twilio error code"},
		{spec: "+86=slow:soon", wantErr: "needs a delay"},
		{spec: "+86=explode", wantErr: "is not one of"},
		{spec: "re:([=failed:1", wantErr: "missing closing"},
		{spec: "nothing", wantErr: "want PATTERN"},
	})
}

// With TwilioRetries a webhook is posted again only when the connection
// could not be made, and once: one answered 500 is lost, as with Twilio.
func TestTwilioRetriesOnlyWhenItCannotConnect(t *testing.T) {
	r := startSim(t, Config{TwilioRetries: true, CallbackAttempts: 8})
	rc := newReceiver(t, testToken)
	rc.fail = 1
	m, err := r.client(t).Api.CreateMessage(sms("+8613800138000", "x", rc.ts.URL+"/cb?attempt=A9"))
	require.NoError(t, err)
	eventually(t, "the delivered callback", func() bool { return slices.Contains(rc.statuses(*m.Sid), "delivered") })
	assert.Equal(t, []string{"delivered"}, rc.statuses(*m.Sid), "the sent callback answered 500 was not posted again")
	st := r.sim.Stats()
	assert.EqualValues(t, 0, st.CallbackRetries)
	assert.EqualValues(t, 1, st.CallbacksFailed)

	m, err = r.client(t).Api.CreateMessage(sms("+8613800138001", "x", "http://127.0.0.1:1/cb"))
	require.NoError(t, err)
	eventually(t, "both callbacks given up", func() bool { return r.sim.Stats().CallbacksFailed == 3 })
	assert.EqualValues(t, 2, r.sim.Stats().CallbackRetries, "each tried again once: nothing listened")
}
