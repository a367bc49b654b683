package api_test

import (
	"bytes"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/api"
	"muster/notify"
	"muster/plans"
)

// syncBuffer is a log sink safe to read while a handler writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// responderRig is a one-node fixture with a drill call-up (EXERCISE, level
// IV over the city), the cluster's answer-link key, and a handler that serves
// the responder page with the real inbound path; log is its log.
type responderRig struct {
	f     *fixture
	h     http.Handler
	key   notify.AnswerKey
	drill notify.Activation
	recs  []notify.Recipient
	log   *syncBuffer
}

func newResponderRig(t *testing.T) *responderRig {
	t.Helper()
	f := newFixture(t, 1)
	r := &responderRig{f: f, log: &syncBuffer{}}
	main := f.handler(f.c.Nodes[0])
	r.drill = boardCallUp(t, f, main, 1000, "990100")
	res := do(t, main, request{method: "GET", path: "/api/v1/activations/" + string(r.drill.ID) + "/recipients?limit=1000", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var l plans.List[notify.Recipient]
	res.decode(t, &l)
	require.Len(t, l.Items, r.drill.Recipients)
	r.recs = l.Items
	n := f.c.Leader().Node
	var err error
	r.key, err = notify.EnsureAnswerKey(ctx(t), n, n, "test")
	require.NoError(t, err)
	in := notify.NewInbound(n, notify.InboundConfig{View: n})
	t.Cleanup(in.Close)
	r.h = api.New(api.Config{Logger: slog.New(slog.NewTextHandler(r.log, nil)), PublicURL: "https://m.example.cn"},
		api.Deps{Cluster: n, Webhooks: in}).Handler()
	return r
}

func (r *responderRig) token(t *testing.T, act plans.ActivationID, person plans.PersonID) string {
	t.Helper()
	tok, err := r.key.Token(act, person)
	require.NoError(t, err)
	return tok
}

// recipient finds the first recipient in language lang.
func (r *responderRig) recipient(t *testing.T, lang plans.Language) notify.Recipient {
	t.Helper()
	for _, rc := range r.recs {
		if rc.Language == lang {
			return rc
		}
	}
	require.FailNow(t, "no recipient speaks "+string(lang))
	return notify.Recipient{}
}

// stateOf reads a recipient of the drill, with its attempt record.
func (r *responderRig) stateOf(t *testing.T, p plans.PersonID) notify.Recipient {
	t.Helper()
	n := r.f.c.Leader().Node
	l, err := notify.NewService(n, n, testSenders).Recipients(ctx(t), muster.Default, r.drill.ID, notify.RecipientFilter{}, plans.Page{Limit: 1000})
	require.NoError(t, err)
	for _, rc := range l.Items {
		if rc.Person == p {
			return rc
		}
	}
	require.FailNow(t, "no recipient "+string(p))
	return notify.Recipient{}
}

func (r *responderRig) post(t *testing.T, tok string, form url.Values, header map[string]string) response {
	t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range header {
		h[k] = v
	}
	return do(t, r.h, request{method: "POST", path: "/r/" + tok, body: strings.NewReader(form.Encode()), header: h})
}

var formNonce = regexp.MustCompile(`name="f" value="([A-Za-z0-9_-]+)"`)

func nonceOf(t *testing.T, res response) string {
	t.Helper()
	m := formNonce.FindStringSubmatch(res.Body.String())
	require.NotNil(t, m, "an answer form: %s", res.Body)
	return m[1]
}

func assertResponderHeaders(t *testing.T, res response) {
	t.Helper()
	h := res.Header()
	assert.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"))
	assert.Equal(t, "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'", h.Get("Content-Security-Policy"))
	assert.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
	assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	assert.Equal(t, "no-store", h.Get("Cache-Control"))
	assert.Equal(t, "DENY", h.Get("X-Frame-Options"))
}

func TestResponderPage(t *testing.T) {
	r := newResponderRig(t)
	zh := r.recipient(t, plans.LangZH)
	tok := r.token(t, r.drill.ID, zh.Person)

	res := do(t, r.h, request{method: "GET", path: "/r/" + tok})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assertResponderHeaders(t, res)
	body := res.Body.String()
	for _, want := range []string{`<html lang="zh-CN">`, r.drill.PlanTitle, "Ⅳ级（" + r.drill.LevelName + "）", r.drill.RegionNames, zh.Name,
		`id="drill"`, plans.ExerciseMark + "本次为演练", `id="yes"`, ">到<", `id="no"`, ">不能到<", `name="reason"`, `href="page.css?v=`} {
		assert.Contains(t, body, want)
	}
	for _, role := range r.drill.Roles {
		if zh.Roles[0] == role.Index {
			assert.Contains(t, body, role.Name, "the person's roles")
		}
	}
	assert.NotRegexp(t, `https?://|<script|style=`, body, "nothing from elsewhere, no script, no inline style")
	assert.NotContains(t, r.log.String(), tok, "the token, a credential, stays out of the access log")
	assert.Contains(t, r.log.String(), "path=/r/"+tok[:4]+"*")

	en := r.recipient(t, plans.LangEN)
	res = do(t, r.h, request{method: "GET", path: "/r/" + r.token(t, r.drill.ID, en.Person)})
	require.Equal(t, http.StatusOK, res.Code)
	for _, want := range []string{`<html lang="en">`, "<th>Level</th><td>IV (general)</td>", en.Name, plans.ExerciseMark + " DRILL", ">Coming<", ">Cannot come<"} {
		assert.Contains(t, res.Body.String(), want)
	}

	css := do(t, r.h, request{method: "GET", path: "/r/page.css"})
	require.Equal(t, http.StatusOK, css.Code)
	assert.Equal(t, "text/css; charset=utf-8", css.Header().Get("Content-Type"))
	assert.Equal(t, "nosniff", css.Header().Get("X-Content-Type-Options"))
	assert.Contains(t, css.Body.String(), "button")

	// Every embedded file is self-contained: no URL of another site.
	require.NoError(t, filepath.WalkDir("responder", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.NotRegexp(t, `https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import`, string(b), p)
		return nil
	}))

	t.Run("a LIVE call-up has no drill banner", func(t *testing.T) {
		main := r.f.handler(r.f.c.Nodes[0])
		res := do(t, main, request{method: "POST", path: "/api/v1/activations", token: r.f.root, body: jsonBody(map[string]any{"plan_id": "flood-control",
			"regions": []string{"990100"}, "level": "IV", "purpose": "LIVE", "reason": "暴雨黄色预警"})})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		var live notify.Activation
		res.decode(t, &live)
		res = do(t, r.h, request{method: "GET", path: "/r/" + r.token(t, live.ID, zh.Person)})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		assert.NotContains(t, res.Body.String(), `id="drill"`)
		assert.NotContains(t, res.Body.String(), plans.ExerciseMark)
		assert.Contains(t, res.Body.String(), `id="yes"`)
	})

	t.Run("links that are not a call-up's", func(t *testing.T) {
		forged := r.token(t, r.drill.ID, "P09999999") // a good MAC, nobody called
		for _, bad := range []string{tok[:len(tok)-2] + "xx", "AAAAAAAAAAAAAAAAAAAAAA", strings.Repeat("A", 200), forged, "%25ZZ", "a.b"} {
			res := do(t, r.h, request{method: "GET", path: "/r/" + bad})
			assert.Equal(t, http.StatusNotFound, res.Code, bad)
			assertResponderHeaders(t, res)
			assert.Contains(t, res.Body.String(), "链接无效")
			assert.Contains(t, res.Body.String(), "This link is not valid")
		}
	})
}

// TestResponderPageSMSHintOnlyWhileOpen: the page tells the person they
// may also answer by SMS only while the call-up takes answers; a retracted
// or ended one shows why no answer is needed and no way to answer.
func TestResponderPageSMSHintOnlyWhileOpen(t *testing.T) {
	r := newResponderRig(t)
	main := r.f.handler(r.f.c.Nodes[0])
	zh, en := r.recipient(t, plans.LangZH), r.recipient(t, plans.LangEN)
	const hintZH, hintEN = "也可直接回复短信", "You can also reply to the SMS"
	page := func(act plans.ActivationID, p plans.PersonID) string {
		t.Helper()
		res := do(t, r.h, request{method: "GET", path: "/r/" + r.token(t, act, p)})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		return res.Body.String()
	}

	body := page(r.drill.ID, zh.Person)
	assert.Contains(t, body, `id="yes"`, "open: the answer form")
	assert.Contains(t, body, hintZH, "open: the SMS hint")
	assert.Contains(t, page(r.drill.ID, en.Person), hintEN)

	res := do(t, main, request{method: "POST", path: "/api/v1/activations/" + string(r.drill.ID) + "/retract", token: r.f.root,
		body: jsonBody(notify.RetractRequest{Message: "演练通知发错，请忽略。"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	body = page(r.drill.ID, zh.Person)
	assert.Contains(t, body, "本次召集已撤回，无需回复。")
	assert.Contains(t, body, "通知：演练通知发错，请忽略。", "what the retraction said")
	assert.NotContains(t, body, hintZH, "retracted: no SMS hint")
	assert.NotContains(t, body, "<form", "retracted: no answer form")
	body = page(r.drill.ID, en.Person)
	assert.Contains(t, body, "This call-up was withdrawn; no answer is needed.")
	assert.NotContains(t, body, hintEN, "retracted: no SMS hint")

	res = do(t, main, request{method: "POST", path: "/api/v1/activations", token: r.f.root, body: jsonBody(map[string]any{"plan_id": "flood-control",
		"regions": []string{"990100"}, "level": "IV", "purpose": "EXERCISE", "reason": "防汛通讯演练"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var ended notify.Activation
	res.decode(t, &ended)
	assert.Contains(t, page(ended.ID, zh.Person), hintZH)
	res = do(t, main, request{method: "POST", path: "/api/v1/activations/" + string(ended.ID) + "/stand-down", token: r.f.root,
		body: jsonBody(map[string]string{"reason": "演练结束"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	body = page(ended.ID, zh.Person)
	assert.Contains(t, body, "本次召集已结束，无需回复。")
	assert.NotContains(t, body, hintZH, "stood down: no SMS hint")
	assert.NotContains(t, body, "<form", "stood down: no answer form")

	// A correction's page says the call-up was corrected, with the
	// correction's text, not that it was withdrawn.
	res = do(t, main, request{method: "POST", path: "/api/v1/activations", token: r.f.root, body: jsonBody(map[string]any{"plan_id": "flood-control",
		"regions": []string{"990100"}, "level": "IV", "purpose": "EXERCISE", "reason": "防汛通讯演练"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var corrected notify.Activation
	res.decode(t, &corrected)
	res = do(t, main, request{method: "POST", path: "/api/v1/activations/" + string(corrected.ID) + "/retract", token: r.f.root,
		body: jsonBody(notify.RetractRequest{Message: "集合地点更正为市应急局。", Correct: true})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	body = page(corrected.ID, zh.Person)
	assert.Contains(t, body, "本次召集已更正")
	assert.Contains(t, body, "通知：集合地点更正为市应急局。")
	assert.NotContains(t, body, "已撤回")
	assert.NotContains(t, body, "<form", "corrected: no answer form")
	body = page(corrected.ID, en.Person)
	assert.Contains(t, body, "This call-up was corrected")
	assert.Contains(t, body, "Notice: 集合地点更正为市应急局。")
}

func TestResponderAnswerRules(t *testing.T) {
	r := newResponderRig(t)
	var zh []notify.Recipient
	for _, rc := range r.recs {
		if rc.Language == plans.LangZH {
			zh = append(zh, rc)
		}
	}
	require.GreaterOrEqual(t, len(zh), 7)
	state := func(p plans.PersonID) notify.Recipient { return r.stateOf(t, p) }

	t.Run("forms", func(t *testing.T) {
		tok := r.token(t, r.drill.ID, zh[0].Person)
		nonce := nonceOf(t, do(t, r.h, request{method: "GET", path: "/r/" + tok}))
		for name, form := range map[string]url.Values{
			"no answer":  {"f": {nonce}},
			"answer 3":   {"answer": {"3"}, "f": {nonce}},
			"no nonce":   {"answer": {"1"}},
			"bad nonce":  {"answer": {"1"}, "f": {"short"}},
			"nonce junk": {"answer": {"1"}, "f": {"!!!!!!!!!!!!!!!!!!!!!!"}},
		} {
			res := r.post(t, tok, form, nil)
			assert.Equal(t, http.StatusBadRequest, res.Code, name)
			assertResponderHeaders(t, res)
		}
		assert.Equal(t, notify.StatePending, state(zh[0].Person).State, "nothing was recorded")
		big := url.Values{"answer": {"2"}, "f": {nonce}, "reason": {strings.Repeat("长", 4000)}}
		assert.Equal(t, http.StatusRequestEntityTooLarge, r.post(t, tok, big, nil).Code)
	})

	t.Run("same origin", func(t *testing.T) {
		for i, tc := range []struct {
			header map[string]string
			code   int
		}{
			{map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://example.com"}, http.StatusForbidden},
			{map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
			{map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
			{map[string]string{"Origin": "https://m.example.cn.evil.example"}, http.StatusForbidden},
			{map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "null"}, http.StatusOK}, // a same-origin post under no-referrer
			{map[string]string{"Origin": "http://example.com"}, http.StatusOK},                    // the host the request came to
			{map[string]string{"Origin": "https://m.example.cn"}, http.StatusOK},                  // the public URL's
			{nil, http.StatusOK}, // a browser that sends neither
		} {
			p := zh[1+i%4].Person
			tok := r.token(t, r.drill.ID, p)
			res := r.post(t, tok, url.Values{"answer": {"1"}, "f": {"AAAAAAAAAAAAAAAAAAAAA" + string(rune('A'+i))}}, tc.header)
			assert.Equal(t, tc.code, res.Code, "%v: %s", tc.header, res.Body)
			if tc.code == http.StatusForbidden {
				assert.Contains(t, res.Body.String(), "请求被拒绝")
				assert.Equal(t, notify.StatePending, state(p).State)
			} else {
				assert.Equal(t, notify.StateAcked, state(p).State)
			}
		}
	})

	t.Run("each link posts a few answers a minute", func(t *testing.T) {
		tok := r.token(t, r.drill.ID, zh[5].Person)
		codes := []int{}
		for i := range 7 {
			res := r.post(t, tok, url.Values{"answer": {"1"}, "f": {"BBBBBBBBBBBBBBBBBBBBB" + string(rune('A'+i))}}, nil)
			codes = append(codes, res.Code)
		}
		assert.Equal(t, []int{200, 200, 200, 200, 200, 429, 429}, codes)
		res := do(t, r.h, request{method: "GET", path: "/r/" + tok})
		assert.Equal(t, http.StatusOK, res.Code, "the page itself still opens")
		other := r.token(t, r.drill.ID, zh[6].Person)
		assert.Equal(t, http.StatusOK, r.post(t, other, url.Values{"answer": {"2"}, "f": {"CCCCCCCCCCCCCCCCCCCCCC"}}, nil).Code, "other links are not held back")
		assert.Equal(t, notify.StateDeclined, state(zh[6].Person).State)
	})
}
