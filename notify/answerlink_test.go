package notify_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/notify/twiliosim"
	"muster/plans"
)

func newAnswerKey(t testing.TB) notify.AnswerKey {
	t.Helper()
	k := make([]byte, notify.AnswerKeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func TestAnswerTokenRoundTrip(t *testing.T) {
	key := newAnswerKey(t)
	for _, tc := range []struct {
		name   string
		act    plans.ActivationID
		person plans.PersonID
		maxLen int
	}{
		{"first", "A000001", "P00000001", 20},
		{"a city", "A000127", "P00016383", 20},
		{"a million people", "A000128", "P01000000", 23},
		{"past the padding", "A1234567", "P123456789", 26},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := key.Token(tc.act, tc.person)
			require.NoError(t, err)
			assert.LessOrEqual(t, len(tok), tc.maxLen, tok)
			assert.Regexp(t, `^[A-Za-z0-9_-]+$`, tok, "base64url, nothing to escape in a URL")
			act, person, err := key.Check(tok)
			require.NoError(t, err)
			assert.Equal(t, tc.act, act)
			assert.Equal(t, tc.person, person)

			link, err := key.Link("https://m.example.cn/", tc.act, tc.person)
			require.NoError(t, err)
			assert.Equal(t, "https://m.example.cn/r/"+tok, link)

			// Any one character changed is another token, and no good.
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			for i := range tok {
				for _, c := range []byte{alphabet[(strings.IndexByte(alphabet, tok[i])+1)%64], alphabet[(strings.IndexByte(alphabet, tok[i])+37)%64]} {
					bad := tok[:i] + string(c) + tok[i+1:]
					_, _, err := key.Check(bad)
					assert.True(t, muster.IsCode(err, muster.ENotFound), "changed at %d: %s", i, bad)
				}
			}
			for _, bad := range []string{"", tok[:len(tok)-1], tok + "A", tok + "=", strings.Repeat(tok, 3), "../" + tok} {
				_, _, err := key.Check(bad)
				assert.True(t, muster.IsCode(err, muster.ENotFound), "%q", bad)
			}
			_, _, err = newAnswerKey(t).Check(tok)
			assert.True(t, muster.IsCode(err, muster.ENotFound), "another cluster's key")

			// The same numbers encoded at greater length (a non-minimal
			// uvarint) with the right MAC are still not the token.
			raw, err := base64.RawURLEncoding.DecodeString(tok)
			require.NoError(t, err)
			a, n := binary.Uvarint(raw)
			long := binary.AppendUvarint(nil, a)
			long[len(long)-1] |= 0x80
			long = append(long, 0)
			forged := base64.RawURLEncoding.EncodeToString(append(long, raw[n:]...))
			_, _, err = key.Check(forged)
			assert.True(t, muster.IsCode(err, muster.ENotFound), "non-minimal encoding %s", forged)
		})
	}

	other, err := key.Token("A000001", "P00000002")
	require.NoError(t, err)
	mine, err := key.Token("A000001", "P00000001")
	require.NoError(t, err)
	assert.NotEqual(t, mine, other, "each recipient has their own link")

	for _, ids := range [][2]string{{"A1", "P00000001"}, {"A000001", "P1"}, {"X000001", "P00000001"}, {"A000001", "P0000000x"}, {"A-00001", "P00000001"}} {
		_, err := key.Token(plans.ActivationID(ids[0]), plans.PersonID(ids[1]))
		assert.Error(t, err, "%v are not muster's IDs", ids)
	}
	_, err = notify.AnswerKey(nil).Token("A000001", "P00000001")
	assert.Error(t, err, "no key, no link")
	_, _, err = notify.AnswerKey(nil).Check(mine)
	assert.True(t, muster.IsCode(err, muster.ENotFound))
}

// The answer-link key is replicated state: created once, by whichever
// proposal commits first, identical on every node, and kept across a
// leader change and a restart.
func TestAnswerKeyCreatedOnceOnEveryNode(t *testing.T) {
	e := newEnv(t, 3, 10)
	ctx := testCtx(t)
	for _, m := range e.c.Nodes {
		k, err := notify.ReadAnswerKey(ctx, m.Node, muster.Stale)
		require.NoError(t, err)
		assert.Nil(t, k, "no key before a link is needed")
	}

	follower := e.c.Followers()[0].Node
	key, err := notify.EnsureAnswerKey(ctx, follower, follower, "test") // proposed through a follower: forwarded
	require.NoError(t, err)
	require.Len(t, key, notify.AnswerKeySize)
	leader := e.c.Leader().Node
	again, err := notify.EnsureAnswerKey(ctx, leader, leader, "test")
	require.NoError(t, err)
	assert.Equal(t, key, again)

	// A second answer.key (two leader services racing) keeps the first.
	payload, _ := json.Marshal(map[string][]byte{"key": newAnswerKey(t)})
	var res notify.AnswerKeyResult
	require.NoError(t, leader.Apply(ctx, &muster.Command{Type: notify.CmdAnswerKey, Actor: "test", Payload: payload}, &res))
	assert.False(t, res.Created)
	assert.Equal(t, key, res.Key)
	payload, _ = json.Marshal(map[string][]byte{"key": []byte("short")})
	err = leader.Apply(ctx, &muster.Command{Type: notify.CmdAnswerKey, Actor: "test", Payload: payload}, &res)
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)

	sameEverywhere := func() {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for _, m := range e.c.Nodes {
			for {
				k, err := notify.ReadAnswerKey(ctx, m.Node, muster.Stale)
				require.NoError(t, err)
				if k != nil {
					assert.Equal(t, key, k, "node %s", m.Node.ID())
					break
				}
				require.True(t, time.Now().Before(deadline), "node %s has no key", m.Node.ID())
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	sameEverywhere()

	old := e.c.Leader()
	e.c.Stop(old)
	nl := e.c.WaitLeader(15 * time.Second)
	require.NotEqual(t, old.Node.ID(), nl.Node.ID())
	k, err := notify.EnsureAnswerKey(ctx, nl.Node, nl.Node, "test")
	require.NoError(t, err)
	assert.Equal(t, key, k, "the new leader finds the key, it makes none")
	e.c.Restart(old)
	sameEverywhere()
}

// linkRE matches a call-up SMS that ends with its answer link.
var linkRE = regexp.MustCompile(`(https?://\S+?/r/)([A-Za-z0-9_-]+)$`)

// callUpLinks checks every outbound call-up SMS of the simulator that
// reached a recipient of recs (besides 叫应 reports): each ends with the
// link PublicURL/r/{token}, whose token names the activation and the
// person of the number it went to. It returns the tokens by person.
func callUpLinks(t *testing.T, r *callRig, key notify.AnswerKey, act plans.ActivationID, recs []notify.Recipient) map[plans.PersonID]string {
	t.Helper()
	byPhone := map[string]plans.PersonID{}
	for _, rc := range recs {
		byPhone[rc.Phone] = rc.Person
	}
	out := map[plans.PersonID]string{}
	for _, m := range r.sim.Messages("") {
		person, ok := byPhone[m.To]
		if m.Direction != "outbound-api" || !ok || strings.Contains(m.Body, "叫应：") {
			continue
		}
		mm := linkRE.FindStringSubmatch(m.Body)
		if !assert.NotNil(t, mm, "the call-up SMS ends with its answer link: %q", m.Body) {
			continue
		}
		assert.Equal(t, r.front.URL+"/r/", mm[1], "the link is under the public URL")
		assert.LessOrEqual(t, len(mm[2]), 23, "a short token: %s", mm[2])
		gotAct, gotPerson, err := key.Check(mm[2])
		if assert.NoError(t, err, m.Body) {
			assert.Equal(t, act, gotAct)
			assert.Equal(t, person, gotPerson, "the link names the person the SMS went to")
		}
		if prev, ok := out[person]; ok {
			assert.Equal(t, prev, mm[2], "one link per recipient")
		}
		out[person] = mm[2]
	}
	return out
}

// page is a responder page as a phone gets it.
type page struct {
	code   int
	body   string
	header http.Header
}

var nonceRE = regexp.MustCompile(`name="f" value="([A-Za-z0-9_-]+)"`)

func (p page) nonce(t *testing.T) string {
	t.Helper()
	m := nonceRE.FindStringSubmatch(p.body)
	require.NotNil(t, m, "the page has an answer form: %s", p.body)
	return m[1]
}

func openPage(t *testing.T, base, token string) page {
	t.Helper()
	resp, err := http.Get(base + "/r/" + token)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, string(b), resp.Header}
}

func postAnswer(t *testing.T, base, token string, form url.Values, header map[string]string) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/r/"+token, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, string(b), resp.Header}
}

// A call-up through the real dispatcher and simulator: every SMS ends with
// its recipient's link, the preview counted the segments the real message
// has, the link opens the responder page on any node, and answers posted
// through followers count like SMS replies, under the same rules.
func TestCallUpLinksOpenTheResponderPage(t *testing.T) {
	r := newCallRig(t, rigOptions{nodes: 3, people: 60})
	ctx := testCtx(t)
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	svc.PublicURL = r.front.URL
	req := notify.ActivationRequest{Plan: "everyone", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "exercise", Reason: "通讯演练"}
	preview, err := svc.Preview(ctx, req)
	require.NoError(t, err)
	a, err := svc.Activate(ctx, "commander", req)
	require.NoError(t, err)
	r.waitSettled(t, a.ID, 30*time.Second)
	r.waitSimIdle(t, 10*time.Second)
	recs := r.recipientsOf(t, a.ID)
	require.Len(t, recs, a.Recipients)
	key, err := notify.ReadAnswerKey(ctx, n, muster.Default)
	require.NoError(t, err)
	require.NotNil(t, key, "the dispatcher created the key before the first send")

	tokens := callUpLinks(t, r, key, a.ID, recs)
	require.Len(t, tokens, len(recs), "every recipient got a link")

	t.Run("the preview counts the segments of the real message", func(t *testing.T) {
		require.NotNil(t, preview.Sample)
		var sent twiliosim.Message
		for _, rc := range recs {
			if rc.Person == preview.Sample.Person {
				msgs := r.sim.Messages(rc.Phone)
				require.Len(t, msgs, 1)
				sent = msgs[0]
			}
		}
		require.NotEmpty(t, sent.Body)
		mm := linkRE.FindStringSubmatch(preview.Sample.Text)
		require.NotNil(t, mm, "the sample ends with a link: %q", preview.Sample.Text)
		assert.Equal(t, linkRE.ReplaceAllString(sent.Body, "${1}TOKEN"), linkRE.ReplaceAllString(preview.Sample.Text, "${1}TOKEN"))
		assert.Len(t, mm[2], len(tokens[preview.Sample.Person]), "the sample link is as long as the real one")
		_, _, err := key.Check(mm[2])
		assert.Error(t, err, "the preview shows no working link")
		enc, chars, segs := plans.SMSSegments(sent.Body)
		assert.Equal(t, []any{enc, chars, segs}, []any{preview.Sample.Encoding, preview.Sample.Chars, preview.Sample.Segments})
		assert.Equal(t, sent.Segments, preview.Sample.Segments, "the simulator counted the same segments")
	})

	first, second, third := recs[0], recs[1], recs[2]
	followers := r.c.Followers()
	require.Len(t, followers, 2)
	f1, f2 := followers[0].HTTPAddr, followers[1].HTTPAddr

	t.Run("the link opens the page", func(t *testing.T) {
		p := openPage(t, r.front.URL, tokens[first.Person]) // the link as sent, through the public URL
		require.Equal(t, http.StatusOK, p.code, p.body)
		assert.Equal(t, "text/html; charset=utf-8", p.header.Get("Content-Type"))
		assert.Contains(t, p.header.Get("Content-Security-Policy"), "default-src 'self'")
		assert.Equal(t, "no-referrer", p.header.Get("Referrer-Policy"))
		assert.Equal(t, "nosniff", p.header.Get("X-Content-Type-Options"))
		assert.Equal(t, "no-store", p.header.Get("Cache-Control"))
		regions, title := a.RegionNames, a.PlanTitle
		if first.Language == plans.LangEN && a.RegionNamesEN != "" {
			regions = a.RegionNamesEN // an English speaker's page names them in English
		}
		if first.Language == plans.LangEN && a.PlanTitleEN != "" {
			title = a.PlanTitleEN // and the plan, when it has an English title
		}
		for _, want := range []string{title, regions, first.Name, `id="drill"`, plans.ExerciseMark, `id="yes"`, `id="no"`, `name="reason"`} {
			assert.Contains(t, p.body, want)
		}
		if first.Language == plans.LangEN {
			assert.Contains(t, p.body, `<html lang="en">`)
		} else {
			assert.Contains(t, p.body, `<html lang="zh-CN">`)
			assert.Contains(t, p.body, "Ⅳ级")
		}
		assert.NotContains(t, p.body, "您已回复")

		var en *notify.Recipient
		for i := range recs {
			if recs[i].Language == plans.LangEN {
				en = &recs[i]
				break
			}
		}
		require.NotNil(t, en, "the generated roster has English speakers")
		p = openPage(t, f2, tokens[en.Person])
		require.Equal(t, http.StatusOK, p.code)
		assert.Contains(t, p.body, `<html lang="en">`)
		assert.Contains(t, p.body, "Coming")
		assert.Contains(t, p.body, plans.ExerciseMark+" DRILL")
		assert.Contains(t, p.body, "<th>Level</th><td>IV (general)</td>")
	})

	t.Run("answers through followers count", func(t *testing.T) {
		nonce := openPage(t, f1, tokens[first.Person]).nonce(t)
		p := postAnswer(t, f1, tokens[first.Person], url.Values{"answer": {"1"}, "f": {nonce}}, nil)
		require.Equal(t, http.StatusOK, p.code, p.body)
		assert.Contains(t, p.body, `id="result"`)
		assert.Regexp(t, `已收到：到|Received: coming`, p.body)
		assert.Regexp(t, `您已回复：到|You answered: coming`, p.body, "the page shows the answer that stands")
		assert.NotContains(t, p.body, `id="yes"`, "no buttons once answered")

		nonce2 := openPage(t, f2, tokens[second.Person]).nonce(t)
		p = postAnswer(t, f2, tokens[second.Person], url.Values{"answer": {"2"}, "reason": {" 家中有事 "}, "f": {nonce2}}, nil)
		require.Equal(t, http.StatusOK, p.code, p.body)
		assert.Regexp(t, `已收到：不能到|Received: cannot come`, p.body)
		assert.Contains(t, p.body, "家中有事")

		b, err := svc.Board(ctx, muster.Default, a.ID)
		require.NoError(t, err)
		assert.Equal(t, 1, b.Total.Acked, "the board counts the web answer")
		assert.Equal(t, 1, b.Total.Declined)
		assert.Equal(t, 1, b.Total.AckBy[0].Acked, "within T+5")
		got := map[plans.PersonID]notify.Recipient{}
		for _, rc := range r.recipientsOf(t, a.ID) {
			got[rc.Person] = rc
		}
		assert.Equal(t, notify.StateAcked, got[first.Person].State)
		assert.Equal(t, "web:1", got[first.Person].Attempt.LastBody)
		assert.False(t, got[first.Person].Attempt.Answered.IsZero())
		assert.Equal(t, notify.StateDeclined, got[second.Person].State)
		assert.Equal(t, "家中有事", got[second.Person].Attempt.Reason)

		// The same form again (a double tap, a reload) is applied once.
		p = postAnswer(t, f2, tokens[first.Person], url.Values{"answer": {"1"}, "f": {nonce}}, nil)
		require.Equal(t, http.StatusOK, p.code, p.body)
		for _, rc := range r.recipientsOf(t, a.ID) {
			if rc.Person == first.Person {
				assert.Equal(t, 1, rc.Attempt.Replies, "a replayed form is not counted")
			}
		}
	})

	t.Run("the first answer stands", func(t *testing.T) {
		p := postAnswer(t, f2, tokens[first.Person], url.Values{"answer": {"2"}, "reason": {"临时有事"}, "f": {"AAAAAAAAAAAAAAAAAAAAAB"}}, nil)
		require.Equal(t, http.StatusOK, p.code, p.body)
		assert.Regexp(t, `以第一次回复为准|first answer stands`, p.body)
		assert.Regexp(t, `您已回复：到|You answered: coming`, p.body)
		for _, rc := range r.recipientsOf(t, a.ID) {
			if rc.Person == first.Person {
				assert.Equal(t, notify.StateAcked, rc.State)
				assert.Empty(t, rc.Attempt.Reason)
			}
		}
		notes, err := svc.Notes(ctx, muster.Default, a.ID)
		require.NoError(t, err)
		require.Len(t, notes, 1)
		assert.Equal(t, first.Person, notes[0].Person)
		assert.Equal(t, "web:2 临时有事", notes[0].Body, "kept as a note, like an SMS after an answer")
		b, err := svc.Board(ctx, muster.Default, a.ID)
		require.NoError(t, err)
		assert.Equal(t, 1, b.Total.Acked)
		assert.Equal(t, 1, b.Total.Declined)
	})

	t.Run("links that are not ours", func(t *testing.T) {
		tok := tokens[third.Person]
		last := "A"
		if tok[len(tok)-1] == 'A' {
			last = "B"
		}
		for _, bad := range []string{tok[:len(tok)-1] + last, "AAAAAAAAAAAAAAAAAAAA", "x"} {
			p := openPage(t, f1, bad)
			assert.Equal(t, http.StatusNotFound, p.code, bad)
			assert.Contains(t, p.body, "链接无效")
			assert.Equal(t, "no-store", p.header.Get("Cache-Control"))
			p = postAnswer(t, f1, bad, url.Values{"answer": {"1"}, "f": {"AAAAAAAAAAAAAAAAAAAAAA"}}, nil)
			assert.Equal(t, http.StatusNotFound, p.code, bad)
		}
		another, err := newAnswerKey(t).Token(a.ID, third.Person)
		require.NoError(t, err)
		assert.Equal(t, http.StatusNotFound, openPage(t, f1, another).code, "a link made with another key")
	})

	t.Run("posts from another site are refused", func(t *testing.T) {
		nonce := openPage(t, f1, tokens[third.Person]).nonce(t)
		form := url.Values{"answer": {"1"}, "f": {nonce}}
		for _, h := range []map[string]string{
			{"Sec-Fetch-Site": "cross-site"},
			{"Sec-Fetch-Site": "same-site"},
			{"Origin": "https://evil.example"},
		} {
			p := postAnswer(t, f1, tokens[third.Person], form, h)
			assert.Equal(t, http.StatusForbidden, p.code, "%v", h)
		}
		assert.Equal(t, notify.StateDelivered, r.recipientsOf(t, a.ID)[2].State, "nothing was recorded")
	})

	t.Run("a stood-down call-up takes no answer", func(t *testing.T) {
		nonce := openPage(t, f1, tokens[third.Person]).nonce(t) // opened before the stand-down
		_, err := svc.StandDown(ctx, "commander", a.ID, "演练结束")
		require.NoError(t, err)
		p := postAnswer(t, f1, tokens[third.Person], url.Values{"answer": {"1"}, "f": {nonce}}, nil)
		assert.Equal(t, http.StatusConflict, p.code, p.body)
		assert.Regexp(t, `本次召集已结束，您的回复未记录|your answer was not recorded`, p.body)
		assert.NotContains(t, p.body, `id="yes"`)
		assert.Equal(t, notify.StateDelivered, r.recipientsOf(t, a.ID)[2].State)

		// Opened now, the page says so and asks nothing.
		deadline := time.Now().Add(10 * time.Second)
		for {
			p = openPage(t, f2, tokens[third.Person])
			if strings.Contains(p.body, `id="closed"`) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond) // the follower applies the stand-down
		}
		assert.Equal(t, http.StatusOK, p.code)
		assert.Regexp(t, `本次召集已结束，无需回复|This call-up has ended`, p.body)
		assert.NotContains(t, p.body, `id="yes"`)

		audit, err := svc.InboundAudit(ctx, muster.Default, 0, 10)
		require.NoError(t, err)
		require.Len(t, audit, 1, "audited like an SMS reply to a closed call-up")
		assert.Equal(t, notify.InboundWeb, audit[0].Kind)
		assert.Equal(t, notify.InboundNoCallUp, audit[0].Outcome)
		assert.Equal(t, third.Person, audit[0].Person)
		assert.Equal(t, a.ID, audit[0].Activation)
	})
}

// A web answer names its call-up exactly: a person in a drill and a newer
// LIVE call-up answers the drill's link, and only the drill counts it
// (an SMS reply would go to the most recent call-up of its account).
func TestWebAnswerTargetsItsActivation(t *testing.T) {
	// Under rules 4 a drill ran on when a LIVE call-up of the same people
	// started (now it is stood down, rulesLiveStopsDrills); such entries
	// replay as they applied, and the answer must still find its own.
	e := newEnvWith(t, 1, 50, clustertest.Options{Setup: setup, Config: func(_ int, c *cluster.Config) { c.Rules = 4 }}, testCtx(t))
	ctx := testCtx(t)
	n := e.c.Leader().Node
	drill, err := e.svc.Activate(ctx, "trainer", notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "EXERCISE", Reason: "演练"})
	require.NoError(t, err)
	live, err := e.svc.Activate(ctx, "commander", floodIV(city))
	require.NoError(t, err)
	l, err := e.svc.Recipients(ctx, muster.Default, drill.ID, notify.RecipientFilter{}, plans.Page{Limit: 1})
	require.NoError(t, err)
	p := l.Items[0].Person
	_, err = e.svc.Recipients(ctx, muster.Default, live.ID, notify.RecipientFilter{}, plans.Page{})
	require.NoError(t, err)

	in := notify.NewInbound(n, notify.InboundConfig{View: n})
	t.Cleanup(in.Close)
	key, err := notify.EnsureAnswerKey(ctx, n, n, "test")
	require.NoError(t, err)
	tok, err := key.Token(drill.ID, p)
	require.NoError(t, err)
	pg, err := in.AnswerPage(ctx, muster.Stale, tok)
	require.NoError(t, err)
	assert.Equal(t, drill.ID, pg.Activation)
	assert.Equal(t, p, pg.Person)
	assert.True(t, pg.Open)
	assert.Equal(t, notify.PurposeExercise, pg.Purpose)

	res, err := in.Submit(ctx, notify.InboundItem{Kind: notify.InboundWeb, Activation: drill.ID, Person: p, Answer: notify.ReplyDecline, Body: strings.Repeat("远", 300), SID: "web:test1"})
	require.NoError(t, err)
	assert.Equal(t, notify.InboundApplied, res.Outcome)
	assert.Equal(t, notify.StateDeclined, res.State)
	st, err := e.svc.Activation(ctx, muster.Default, drill.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Counters.ByState[notify.StateDeclined])
	st, err = e.svc.Activation(ctx, muster.Default, live.ID)
	require.NoError(t, err)
	assert.Zero(t, st.Counters.ByState[notify.StateDeclined]+st.Counters.ByState[notify.StateAcked], "the LIVE call-up is untouched")
	pg, err = in.AnswerPage(ctx, muster.Stale, tok)
	require.NoError(t, err)
	assert.Equal(t, notify.StateDeclined, pg.State)
	assert.Equal(t, []rune(strings.Repeat("远", notify.MaxWebReason)), []rune(pg.Reason), "a reason is cut to its limit")

	for name, it := range map[string]notify.InboundItem{
		"no answer":      {Kind: notify.InboundWeb, Activation: drill.ID, Person: p},
		"a note":         {Kind: notify.InboundWeb, Activation: drill.ID, Person: p, Answer: notify.ReplyNote},
		"unknown person": {Kind: notify.InboundWeb, Activation: drill.ID, Person: "P09999999", Answer: notify.ReplyAccept},
		"unknown act":    {Kind: notify.InboundWeb, Activation: "A999999", Person: p, Answer: notify.ReplyAccept},
	} {
		res, err := in.Submit(ctx, it)
		require.NoError(t, err, name)
		assert.Contains(t, []notify.InboundOutcome{notify.InboundRejected, notify.InboundUnknown}, res.Outcome, name)
	}
	audit, err := e.svc.InboundAudit(ctx, muster.Default, 0, 10)
	require.NoError(t, err)
	assert.Len(t, audit, 4, "refused web answers are audited")
}

// Without a public URL, nothing changes: messages and previews carry no
// link, and no key is made.
func TestNoPublicURLNoLink(t *testing.T) {
	// No public URL, no delivery reports: each is looked up, soon.
	r := newCallRig(t, rigOptions{nodes: 1, people: 20, noCallbacks: true, disp: notify.DispatcherConfig{ReportTimeout: 300 * time.Millisecond}})
	ctx := testCtx(t)
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)
	req := notify.ActivationRequest{Plan: "everyone", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "exercise", Reason: "通讯演练"}
	preview, err := svc.Preview(ctx, req)
	require.NoError(t, err)
	require.NotNil(t, preview.Sample)
	assert.NotContains(t, preview.Sample.Text, "/r/")
	a := r.activate(t, "exercise")
	r.waitSettled(t, a.ID, 30*time.Second)
	r.waitSimIdle(t, 10*time.Second)
	msgs := 0
	for _, m := range r.sim.Messages("") {
		if m.Direction == "outbound-api" {
			msgs++
			assert.NotContains(t, m.Body, "http", "no link: %q", m.Body)
			// The Chinese template's text, or the English one's for English
			// speakers (everyone.yaml has both).
			assert.True(t, strings.HasSuffix(m.Body, "不能到岗。") || strings.HasSuffix(m.Body, "1=yes 2=no."), "the template's text ends the message: %q", m.Body)
		}
	}
	assert.Equal(t, a.Recipients, msgs)
	key, err := notify.ReadAnswerKey(ctx, n, muster.Default)
	require.NoError(t, err)
	assert.Nil(t, key)
}
