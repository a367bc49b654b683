package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/plans"
)

// A LIVE warning whose event or headline, in Chinese or in English, carries
// an exercise mark (【演练】, [EXERCISE]) is refused as it is issued (400,
// naming the field, the mark and the rule in English and Chinese), where
// it was issued and its CAP alert, which the CAP builder refuses for a
// LIVE alert, answered 500. A drill word without the mark is taken and its
// CAP served. An upstream Actual alert with the mark is refused (400) and
// creates no warning; the same alert with status Exercise is a drill's
// warning.
func TestALiveWarningWithAnExerciseMarkIsRefused(t *testing.T) {
	f, h, sample := capImportFixture(t)
	commander, _ := createToken(t, h, f.root, "commander", access.Commander)
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)
	warnings := func() []plans.Warning {
		t.Helper()
		res := do(t, h, request{method: "GET", path: "/api/v1/warnings", token: viewer})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var list plans.List[plans.Warning]
		res.decode(t, &list)
		return list.Items
	}

	for _, c := range []struct {
		name, field, mark string
		body              map[string]any
	}{
		{"headline", "headline", "【演练】", map[string]any{"event": "暴雨", "headline": "【演练】东湖区暴雨红色预警"}},
		{"event", "event", "【演练】", map[string]any{"event": "暴雨【演练】", "headline": "东湖区暴雨红色预警"}},
		{"English headline", "headline_en", "[EXERCISE]", map[string]any{"event": "暴雨", "headline": "东湖区暴雨红色预警",
			"headline_en": "[EXERCISE] Red rainstorm warning for Donghu"}},
		{"English event", "event_en", "[EXERCISE]", map[string]any{"event": "城市内涝", "headline": "东湖区城市内涝红色预警",
			"event_en": "[EXERCISE] Urban flooding"}},
	} {
		c.body["regions"], c.body["level"] = []string{"990101"}, "red"
		res := do(t, h, request{method: "POST", path: "/api/v1/warnings", token: commander, body: jsonBody(c.body)})
		if !assert.Equal(t, http.StatusBadRequest, res.Code, "%s: %s", c.name, res.Body) {
			continue
		}
		msg := res.Body.String()
		assert.Contains(t, msg, c.field+` \"`, c.name)
		assert.Contains(t, msg, "carries the exercise mark "+c.mark+": a LIVE warning must not look like a drill", c.name)
		assert.Contains(t, msg, "真实预警不得带有"+c.mark+"标识", c.name)
	}
	assert.Empty(t, warnings(), "nothing was issued")

	// 演练 as a word, no mark: a real warning may say it.
	res := do(t, h, request{method: "POST", path: "/api/v1/warnings", token: commander, body: jsonBody(map[string]any{
		"regions": []string{"990101"}, "level": "orange", "event": "暴雨", "headline": "东湖区暴雨橙色预警，原定防汛演练取消",
		"event_en": "Rainstorm", "headline_en": "Orange rainstorm warning for Donghu: the flood drill is called off"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var w plans.Warning
	res.decode(t, &w)
	res = do(t, h, request{method: "GET", path: "/api/v1/warnings/" + string(w.ID) + "/cap", token: viewer})
	assert.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	// An upstream Actual alert with the mark, in its zh-CN or en-US block.
	post := func(doc string) response {
		t.Helper()
		return do(t, h, request{method: "POST", path: "/api/v1/cap", token: commander, body: bytes.NewReader([]byte(doc)),
			header: map[string]string{"Content-Type": "application/cap+xml"}})
	}
	edit := func(id string, oldnew ...string) string {
		s := strings.ReplaceAll(string(sample), "990100-QX-20261123085500-RS-ORANGE", id)
		return strings.NewReplacer(oldnew...).Replace(s)
	}
	zhMarked := []string{"<cap:headline>示例市气象台发布暴雨橙色预警信号</cap:headline>", "<cap:headline>【演练】示例市气象台发布暴雨橙色预警信号</cap:headline>"}
	res = post(edit("QX-MARK-1", zhMarked...))
	require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), `CAP alert QX-MARK-1: headline \"【演练】示例市气象台发布暴雨橙色预警信号\" carries the exercise mark 【演练】, but the alert's status is Actual`)
	assert.Contains(t, res.Body.String(), "真实预警不得带有【演练】标识")
	res = post(edit("QX-MARK-2", "<cap:headline>Orange rainstorm", "<cap:headline>[EXERCISE] Orange rainstorm"))
	require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
	assert.Contains(t, res.Body.String(), `CAP alert QX-MARK-2: en-US headline \"[EXERCISE] Orange rainstorm warning for Donghu and Jiangbei\" carries the exercise mark [EXERCISE]`)
	require.Len(t, warnings(), 1, "no warning from either alert")

	// The same alert as an exercise is a drill's warning, served as one.
	res = post(edit("QX-MARK-3", append(zhMarked, "<cap:status>Actual</cap:status>", "<cap:status>Exercise</cap:status>")...))
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	res.decode(t, &w)
	assert.Equal(t, plans.WarningExercise, w.Purpose)
	res = do(t, h, request{method: "GET", path: "/api/v1/warnings/" + string(w.ID) + "/cap", token: viewer})
	assert.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
}
