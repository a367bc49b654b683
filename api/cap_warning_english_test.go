package api_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/api"
	"muster/cap"
	"muster/cluster/clustertest"
	"muster/plans"
)

// validCAP fetches a CAP document, checks it against the schema and
// returns it parsed.
func validCAP(t *testing.T, h http.Handler, token, path string) *cap.Alert {
	t.Helper()
	res := do(t, h, request{method: "GET", path: path, token: token})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, api.CAPContentType, res.Header().Get("Content-Type"))
	requireSchemaValid(t, res.Body.Bytes())
	a, err := cap.Parse(res.Body.Bytes())
	require.NoError(t, err)
	return a
}

// infoLanguages lists the languages of a's info blocks, in order.
func infoLanguages(a *cap.Alert) []string {
	var out []string
	for _, in := range a.Infos {
		out = append(out, in.Language)
	}
	return out
}

func TestWarningCAPHasAnEnglishBlock(t *testing.T) {
	xmllintPath(t)
	clk := clustertest.NewClock(time.Date(2026, 11, 23, 8, 0, 0, 0, shanghai).UTC())
	f := newCAPFixture(t, clk)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)
	commander, _ := createToken(t, h, f.root, "commander", access.Commander)
	issue := func(body map[string]any) plans.Warning {
		t.Helper()
		res := do(t, h, request{method: "POST", path: "/api/v1/warnings", token: commander, body: jsonBody(body)})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		var w plans.Warning
		res.decode(t, &w)
		return w
	}
	capOf := func(w plans.Warning) *cap.Alert {
		t.Helper()
		return validCAP(t, h, viewer, "/api/v1/warnings/"+string(w.ID)+"/cap")
	}

	// A red rainstorm warning without English: the signal's English name,
	// the regions by their English names (青山街道 has none).
	rain := issue(map[string]any{"regions": []string{"990101001", "990102"}, "level": "红", "event": "暴雨",
		"headline": "青山街道、江北区暴雨红色预警", "description": "预计未来3小时内降雨量将达100毫米以上。"})
	a := capOf(rain)
	require.Equal(t, []string{cap.LanguageZH, cap.LanguageEN}, infoLanguages(a))
	zh, en := a.Infos[0], a.Infos[1]
	assert.Equal(t, "暴雨", zh.Event)
	assert.Equal(t, "青山街道、江北区暴雨红色预警", zh.Headline)
	assert.Equal(t, "Rainstorm", en.Event)
	assert.Equal(t, "Red rainstorm warning for 青山街道, Jiangbei District", en.Headline)
	assert.Equal(t, "The details are given in Chinese, in the zh-CN block of this alert.", en.Description)
	assert.Equal(t, cap.SeverityExtreme, en.Severity)
	require.Len(t, en.Areas, 1)
	assert.Equal(t, "青山街道, Jiangbei District", en.Areas[0].Desc)
	assert.Equal(t, zh.Areas[0].Geocodes, en.Areas[0].Geocodes)
	assert.Equal(t, zh.Categories, en.Categories)

	// Given English texts are what English readers get.
	given := issue(map[string]any{"regions": []string{"990101"}, "level": "orange", "event": "城市内涝",
		"headline": "东湖区城市内涝橙色预警", "event_en": "Urban flooding", "headline_en": "Orange urban flooding warning for Donghu",
		"description_en": "Low roads in Donghu are under water."})
	assert.Equal(t, "Urban flooding", given.EventEN)
	a = capOf(given)
	require.Equal(t, []string{cap.LanguageZH, cap.LanguageEN}, infoLanguages(a))
	assert.Equal(t, "Urban flooding", a.Infos[1].Event)
	assert.Equal(t, "Orange urban flooding warning for Donghu", a.Infos[1].Headline)
	assert.Equal(t, "Low roads in Donghu are under water.", a.Infos[1].Description)
	assert.Equal(t, "Donghu District", a.Infos[1].Areas[0].Desc)

	// An event that names no signal, without English: Chinese only.
	none := issue(map[string]any{"regions": []string{"990102"}, "level": "yellow", "event": "城市内涝", "headline": "江北区城市内涝黄色预警"})
	assert.Equal(t, []string{cap.LanguageZH}, infoLanguages(capOf(none)))

	// Lifted, the rainstorm warning is the Cancel of its alert, as before.
	res := do(t, h, request{method: "POST", path: "/api/v1/warnings/" + string(rain.ID) + "/lift", token: commander, body: jsonBody(map[string]string{"reason": "雨势减弱"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	lifted := capOf(rain)
	assert.Equal(t, cap.MsgTypeCancel, lifted.MsgType)
	assert.Empty(t, lifted.Infos)
	assert.Equal(t, capSender+","+capSender+":warning:"+string(rain.ID)+",2026-11-23T08:00:00+08:00", lifted.References)
}

func TestImportedWarningKeepsUpstreamEnglish(t *testing.T) {
	xmllintPath(t)
	f, h, sample := capImportFixture(t)
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)
	commander, _ := createToken(t, h, f.root, "commander", access.Commander)
	res := do(t, h, request{method: "POST", path: "/api/v1/cap", token: commander, body: bytes.NewReader(sample),
		header: map[string]string{"Content-Type": "application/cap+xml"}})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var w plans.Warning
	res.decode(t, &w)
	assert.Equal(t, "暴雨", w.Event)
	assert.Equal(t, "Rainstorm", w.EventEN)
	assert.Equal(t, "Orange rainstorm warning for Donghu and Jiangbei", w.HeadlineEN)
	assert.Equal(t, "More than 50 mm of rain is expected within 3 hours in Donghu and Jiangbei districts.", w.DescriptionEN)

	a := validCAP(t, h, viewer, "/api/v1/warnings/"+string(w.ID)+"/cap")
	require.Equal(t, []string{cap.LanguageZH, cap.LanguageEN}, infoLanguages(a))
	assert.Equal(t, "Rainstorm", a.Infos[1].Event)
	assert.Equal(t, "Orange rainstorm warning for Donghu and Jiangbei", a.Infos[1].Headline)
	assert.Equal(t, "More than 50 mm of rain is expected within 3 hours in Donghu and Jiangbei districts.", a.Infos[1].Description)
	assert.Equal(t, "Donghu District, Jiangbei District", a.Infos[1].Areas[0].Desc)

	// An upstream alert in Chinese only gets the English muster makes.
	zhOnly := removeENInfo(t, sample)
	res = do(t, h, request{method: "POST", path: "/api/v1/cap", token: commander, body: bytes.NewReader(zhOnly),
		header: map[string]string{"Content-Type": "application/cap+xml"}})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var z plans.Warning
	res.decode(t, &z)
	assert.Empty(t, z.EventEN)
	a = validCAP(t, h, viewer, "/api/v1/warnings/"+string(z.ID)+"/cap")
	require.Equal(t, []string{cap.LanguageZH, cap.LanguageEN}, infoLanguages(a))
	assert.Equal(t, "Orange rainstorm warning for Donghu District, Jiangbei District", a.Infos[1].Headline)
}

// removeENInfo is the upstream sample without its en-US info block, under
// another identifier.
func removeENInfo(t *testing.T, sample []byte) []byte {
	t.Helper()
	start := bytes.Index(sample, []byte("<cap:info>"))
	end := bytes.Index(sample, []byte("</cap:info>"))
	require.True(t, start > 0 && end > start)
	require.Contains(t, string(sample[start:end]), "<cap:language>en-US</cap:language>")
	out := append(bytes.Clone(sample[:start]), sample[end+len("</cap:info>"):]...)
	return bytes.Replace(out, []byte("RS-ORANGE</cap:identifier>"), []byte("RS-ORANGE-ZH</cap:identifier>"), 1)
}
