package api_test

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/access"
	"muster/api"
	"muster/cap"
	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// capSender is the CAP sender the test server is configured with.
const capSender = "muster.990100.example.cn"

var (
	// capSchema is the OASIS CAP 1.2 schema kept with package cap.
	capSchema = filepath.Join("..", "cap", "testdata", "cap-v1.2.xsd")
	// upstreamDir holds upstream feed samples kept with package cap.
	upstreamDir = filepath.Join("..", "cap", "testdata", "upstream")
)

// newCAPFixture is a single node with a moving clock, the warnings service
// and the CAP sender set, so that every document it serves is the same on
// every run. Its time zone is the default, Asia/Shanghai.
func newCAPFixture(t *testing.T, clk muster.Clock) *fixture {
	t.Helper()
	return newWarningFixture(t, clk, capSender)
}

// xmllintPath finds xmllint (Debian package libxml2-utils). Without it the
// test is skipped, or fails when MUSTER_REQUIRE_XMLLINT=1, as CI sets.
func xmllintPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("xmllint")
	if err == nil {
		return path
	}
	if os.Getenv("MUSTER_REQUIRE_XMLLINT") == "1" {
		t.Fatalf("xmllint not found and MUSTER_REQUIRE_XMLLINT=1: install libxml2-utils to check CAP documents against %s", capSchema)
	}
	t.Skipf("xmllint not found: install libxml2-utils to check CAP documents against %s; set MUSTER_REQUIRE_XMLLINT=1 to make this a failure", capSchema)
	return ""
}

// requireSchemaValid fails the test unless doc validates against the CAP
// 1.2 schema.
func requireSchemaValid(t *testing.T, doc []byte) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "alert.xml")
	require.NoError(t, os.WriteFile(file, doc, 0o644))
	c, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(c, xmllintPath(t), "--noout", "--nonet", "--schema", capSchema, file).CombinedOutput()
	require.NoError(t, c.Err(), "xmllint took too long")
	require.NoError(t, err, "xmllint rejects the document:\n%s\n%s", out, doc)
}

// getCAP fetches a CAP document, checks it against the schema and the
// golden file testdata/cap/<golden>.xml (rewritten with -update), and
// returns it parsed.
func getCAP(t *testing.T, h http.Handler, token, path, golden string) (*cap.Alert, []byte) {
	t.Helper()
	res := do(t, h, request{method: "GET", path: path, token: token})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, api.CAPContentType, res.Header().Get("Content-Type"))
	doc := res.Body.Bytes()
	requireSchemaValid(t, doc)
	name := filepath.Join("testdata", "cap", golden+".xml")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(name), 0o755))
		require.NoError(t, os.WriteFile(name, doc, 0o644))
	}
	want, err := os.ReadFile(name)
	require.NoError(t, err, "run go test ./api -run CAP -update to create the golden files")
	assert.Equal(t, string(want), string(doc), "%s differs from the golden file (go test ./api -run CAP -update rewrites it)", name)
	a, err := cap.Parse(doc)
	require.NoError(t, err, "muster reads back what it serves")
	return a, doc
}

// shanghai is the zone muster writes CAP timestamps in by default.
var shanghai = time.FixedZone("CST", 8*60*60)

// capCallUpFixture is a CAP fixture on a test clock (2026-11-23 09:00
// Shanghai) with the demo city and a roster of people, and a viewer's
// token.
func capCallUpFixture(t *testing.T, people int) (*clustertest.Clock, *fixture, http.Handler, string) {
	t.Helper()
	clk := clustertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, shanghai).UTC())
	f := newCAPFixture(t, clk)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	regions, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, people, 3, examples.Grids(regions)))
	res := do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)
	return clk, f, h, viewer
}

func TestActivationsAsCAP(t *testing.T) {
	xmllintPath(t)
	clk, f, h, viewer := capCallUpFixture(t, 300)
	office, _ := createToken(t, h, f.root, "值班主任", access.Admin)          // requests
	approver, _ := createToken(t, h, f.root, "approver", access.Approver) // not made by the requester

	activate := func(body map[string]any) notify.Activation {
		t.Helper()
		res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: office, body: jsonBody(body)})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		var a notify.Activation
		res.decode(t, &a)
		return a
	}
	capPath := func(id plans.ActivationID) string { return "/api/v1/activations/" + string(id) + "/cap" }

	// LIVE level I: no alert until it is approved and starts.
	live := activate(map[string]any{"plan_id": "flood-control", "regions": []string{"990102", "990101"}, "level": "I",
		"purpose": "LIVE", "reason": "特大暴雨，东湖区、江北区城区严重内涝"})
	require.Equal(t, notify.StatusPendingApproval, live.Status)
	res := do(t, h, request{method: "GET", path: capPath(live.ID), token: viewer})
	require.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
	assert.Contains(t, res.errorBody(t).Message, "never issued")
	clk.Add(3 * time.Minute)
	approve := "/api/v1/activations/" + string(live.ID) + "/approve"
	res = do(t, h, request{method: "POST", path: approve, token: approver, body: jsonBody(map[string]any{"dry_run": true})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var preview notify.Preview
	res.decode(t, &preview)
	res = do(t, h, request{method: "POST", path: approve, token: approver, body: jsonBody(map[string]any{"reason": "会商确认", "recipients": preview.Total})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	a, _ := getCAP(t, h, viewer, capPath(live.ID), "activation-live")
	assert.Equal(t, capSender+":activation:"+string(live.ID), a.Identifier)
	assert.Equal(t, capSender, a.Sender)
	assert.Equal(t, "2026-11-23T09:03:00+08:00", cap.FormatTime(a.Sent.Time),
		"sent is when it was issued, its approval three minutes after the request (it was no alert before), in China Standard Time")
	assert.Equal(t, cap.StatusActual, a.Status)
	assert.Equal(t, cap.MsgTypeAlert, a.MsgType)
	assert.Equal(t, cap.ScopeRestricted, a.Scope, "a call-up of cadres")
	require.Len(t, a.Infos, 2, "zh-CN and, since the flood plan has an English title, en-US")
	zh, en := a.Infos[0], a.Infos[1]
	assert.Equal(t, cap.LanguageZH, zh.Language)
	assert.Equal(t, cap.LanguageEN, en.Language)
	for _, in := range a.Infos {
		assert.Equal(t, cap.SeverityExtreme, in.Severity)
		assert.Equal(t, cap.UrgencyImmediate, in.Urgency)
		assert.Equal(t, cap.CertaintyObserved, in.Certainty)
		assert.Equal(t, []cap.Category{cap.CategoryMet}, in.Categories)
		require.Len(t, in.Areas, 1)
		assert.Equal(t, []cap.NamedValue{{ValueName: cap.GeocodeGBT2260, Value: "990101"}, {ValueName: cap.GeocodeGBT2260, Value: "990102"}}, in.Areas[0].Geocodes)
	}
	assert.Equal(t, "东湖区、江北区", zh.Areas[0].Desc)
	assert.Equal(t, "Donghu District, Jiangbei District", en.Areas[0].Desc, "the English names English speakers were told")
	assert.Contains(t, en.Headline, "Example City Flood Control Plan")
	assert.True(t, strings.HasPrefix(zh.Headline, "东湖区、江北区"), "%s", zh.Headline)
	assert.True(t, strings.HasSuffix(en.Headline, " activated in Donghu District, Jiangbei District"), "the regions the Chinese headline names, in English: %s", en.Headline)

	// EXERCISE level III: status Exercise, headlines marked as a drill (in
	// another district: no drill goes where the LIVE call-up is).
	clk.Add(time.Hour)
	drill := activate(map[string]any{"plan_id": "flood-control", "regions": []string{"990103001"}, "level": "III",
		"purpose": "EXERCISE", "reason": "防汛通讯演练"})
	require.Equal(t, notify.StatusActive, drill.Status)
	orig, origDoc := getCAP(t, h, viewer, capPath(drill.ID), "activation-exercise")
	assert.Equal(t, cap.StatusExercise, orig.Status)
	assert.Equal(t, cap.SeverityModerate, orig.Infos[0].Severity)
	assert.True(t, strings.HasPrefix(orig.Infos[0].Headline, cap.ExerciseMarkZH), orig.Infos[0].Headline)
	assert.True(t, strings.HasSuffix(orig.Infos[1].Headline, " activated in 滨江街道"), "a region without an English name by its Chinese one: %s", orig.Infos[1].Headline)
	assert.Equal(t, []cap.NamedValue{{ValueName: cap.GeocodeRegion, Value: "990103001"}}, orig.Infos[0].Areas[0].Geocodes)

	// Retracted: the activation keeps its alert as issued, and its
	// correction is the Cancel of that alert.
	clk.Add(10 * time.Minute)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(drill.ID) + "/retract", token: f.root,
		body: jsonBody(notify.RetractRequest{Message: "演练通知发错，请忽略。"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var retracted notify.RetractResult
	res.decode(t, &retracted)
	_, again := getCAP(t, h, viewer, capPath(drill.ID), "activation-exercise")
	assert.Equal(t, string(origDoc), string(again), "a retracted activation's alert stays as issued")
	cancel, _ := getCAP(t, h, viewer, capPath(retracted.Correction.ID), "activation-retraction")
	assert.Equal(t, cap.MsgTypeCancel, cancel.MsgType)
	assert.Equal(t, cap.StatusExercise, cancel.Status)
	assert.Equal(t, orig.Sender+","+orig.Identifier+","+cap.FormatTime(orig.Sent.Time), cancel.References, "references the original's sender,identifier,sent")
	assert.Equal(t, "演练通知发错，请忽略。", cancel.Note)
	assert.Empty(t, cancel.Infos)
	assert.Equal(t, "2026-11-23T10:13:00+08:00", cap.FormatTime(cancel.Sent.Time))

	// A retraction with a corrected text is an Update carrying it.
	clk.Add(10 * time.Minute)
	test := activate(map[string]any{"plan_id": "flood-control", "regions": []string{"990104"}, "level": "IV",
		"purpose": "TEST", "reason": "系统联调"})
	testAlert, _ := getCAP(t, h, viewer, capPath(test.ID), "activation-test")
	assert.Equal(t, cap.StatusTest, testAlert.Status)
	clk.Add(time.Minute)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(test.ID) + "/retract", token: f.root,
		body: jsonBody(notify.RetractRequest{Message: "集合地点更正为江北区防汛物资仓库。", Correct: true})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	res.decode(t, &retracted)
	upd, _ := getCAP(t, h, viewer, capPath(retracted.Correction.ID), "activation-correction")
	assert.Equal(t, cap.MsgTypeUpdate, upd.MsgType)
	assert.Equal(t, testAlert.Reference().String(), upd.References)
	assert.Equal(t, "集合地点更正为江北区防汛物资仓库。", upd.Infos[0].Description)
	for _, in := range upd.Infos {
		assert.NotContains(t, in.Instruction, "回复确认", "a correction takes no answers")
		assert.NotContains(t, in.Instruction, "reply to confirm")
	}

	res = do(t, h, request{method: "GET", path: capPath("A999999"), token: viewer})
	assert.Equal(t, http.StatusNotFound, res.Code)
	res = do(t, h, request{method: "GET", path: capPath(live.ID)})
	assert.Equal(t, http.StatusUnauthorized, res.Code)
}

// TestCAPWithdrawnRequestHasNoAlert: a LIVE request withdrawn (stood down)
// before its approval never started and sent nothing, so it has no alert,
// as a pending or rejected one has none.
func TestCAPWithdrawnRequestHasNoAlert(t *testing.T) {
	clk, f, h, viewer := capCallUpFixture(t, 50)
	res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(map[string]any{"plan_id": "flood-control",
		"regions": []string{"990102"}, "level": "II", "purpose": "LIVE", "reason": "特大暴雨"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var live notify.Activation
	res.decode(t, &live)
	require.Equal(t, notify.StatusPendingApproval, live.Status)
	clk.Add(time.Minute)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(live.ID) + "/stand-down", token: f.root,
		body: jsonBody(map[string]string{"reason": "雨情减弱，撤回申请"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	res = do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(live.ID), token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var st notify.ActivationStatus
	res.decode(t, &st)
	require.Equal(t, notify.StatusStoodDown, st.Status)
	require.True(t, st.StartedAt.IsZero(), "withdrawn before approval, it never started")

	res = do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(live.ID) + "/cap", token: viewer})
	require.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
	e := res.errorBody(t)
	assert.Equal(t, muster.EConflict, e.Code)
	assert.Contains(t, e.Message, "never started")
	assert.Contains(t, e.Message, string(live.ID))
}

func TestWarningsAsCAPAndImport(t *testing.T) {
	xmllintPath(t)
	clk := clustertest.NewClock(time.Date(2026, 11, 23, 8, 0, 0, 0, shanghai).UTC())
	f := newCAPFixture(t, clk)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)
	commander, _ := createToken(t, h, f.root, "commander", access.Commander)

	// A warning muster issues is a Public alert; lifted, it is the Cancel
	// of that alert.
	res := do(t, h, request{method: "POST", path: "/api/v1/warnings", token: commander, body: jsonBody(map[string]any{
		"regions": []string{"990101", "990102"}, "level": "橙", "event": "暴雨", "headline": "东湖区、江北区暴雨橙色预警",
		"description": "预计未来6小时内东湖区、江北区降雨量将达100毫米以上。", "category": "自然灾害", "cap_category": "Met", "expires_in": "12h"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var w plans.Warning
	res.decode(t, &w)
	assert.Equal(t, plans.WarningLive, w.Purpose)
	warnPath := "/api/v1/warnings/" + string(w.ID) + "/cap"
	alert, _ := getCAP(t, h, viewer, warnPath, "warning-orange")
	assert.Equal(t, capSender+":warning:"+string(w.ID), alert.Identifier)
	assert.Equal(t, cap.ScopePublic, alert.Scope)
	assert.Equal(t, "2026-11-23T08:00:00+08:00", cap.FormatTime(alert.Sent.Time))
	require.Len(t, alert.Infos, 2, "a rainstorm warning has Chinese text and the English a signal has")
	assert.Equal(t, "Orange rainstorm warning for Donghu District, Jiangbei District", alert.Infos[1].Headline)
	assert.Equal(t, cap.SeveritySevere, alert.Infos[0].Severity)
	assert.Equal(t, cap.UrgencyExpected, alert.Infos[0].Urgency)
	assert.Equal(t, cap.CertaintyLikely, alert.Infos[0].Certainty)
	assert.Equal(t, "2026-11-23T20:00:00+08:00", cap.FormatTime(alert.Infos[0].Expires.Time))

	clk.Add(2 * time.Hour)
	res = do(t, h, request{method: "POST", path: "/api/v1/warnings/" + string(w.ID) + "/lift", token: commander, body: jsonBody(map[string]string{"reason": "雨势减弱"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	lifted, _ := getCAP(t, h, viewer, warnPath, "warning-lifted")
	assert.Equal(t, cap.MsgTypeCancel, lifted.MsgType)
	assert.Equal(t, alert.Identifier+":lift", lifted.Identifier)
	assert.Equal(t, alert.Reference().String(), lifted.References)
	assert.Equal(t, "雨势减弱", lifted.Note)
	assert.Equal(t, cap.ScopePublic, lifted.Scope)
	assert.Equal(t, "normal", modeOf(t, f, h, "990101"))

	// An upstream meteorological alert becomes a warning, once.
	sample, err := os.ReadFile(filepath.Join(upstreamDir, "rainstorm-orange.xml"))
	require.NoError(t, err)
	post := func(token string, body []byte) response {
		return do(t, h, request{method: "POST", path: "/api/v1/cap", token: token, body: bytes.NewReader(body),
			header: map[string]string{"Content-Type": "application/cap+xml"}})
	}
	res = post(viewer, sample)
	assert.Equal(t, http.StatusForbidden, res.Code, "importing needs the activate permission")
	res = post(commander, sample)
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var imported plans.Warning
	res.decode(t, &imported)
	assert.Equal(t, "/api/v1/warnings/"+string(imported.ID), res.Header().Get("Location"))
	assert.Equal(t, plans.WarningOrange, imported.Level)
	assert.Equal(t, plans.WarningLive, imported.Purpose)
	assert.Equal(t, []plans.RegionCode{"990101", "990102"}, imported.Regions)
	assert.Equal(t, "暴雨", imported.Event, "the zh-CN block is read")
	assert.Equal(t, "示例市气象台发布暴雨橙色预警信号", imported.Headline)
	assert.Equal(t, plans.CAPMet, imported.CAPCategory)
	assert.Equal(t, plans.HazardNatural, imported.Category)
	assert.Equal(t, "cap:qx.990100.example.cn,990100-QX-20261123085500-RS-ORANGE,2026-11-23T08:55:00+08:00", imported.Source)
	assert.True(t, imported.Expires.Equal(time.Date(2026, 11, 23, 20, 0, 0, 0, shanghai)), "%v", imported.Expires)
	assert.Equal(t, "commander", imported.IssuedBy)
	assert.Equal(t, "standby", modeOf(t, f, h, "990101"))
	assert.Equal(t, "standby", modeOf(t, f, h, "990102001"))

	clk.Add(time.Minute)
	res = post(commander, sample)
	require.Equal(t, http.StatusOK, res.Code, "the same alert again: %s", res.Body)
	var again plans.Warning
	res.decode(t, &again)
	assert.Equal(t, imported.ID, again.ID)
	assert.Equal(t, imported.IssuedAt, again.IssuedAt)

	relayed, _ := getCAP(t, h, viewer, "/api/v1/warnings/"+string(imported.ID)+"/cap", "warning-imported")
	assert.Equal(t, "relayed from qx.990100.example.cn,990100-QX-20261123085500-RS-ORANGE,2026-11-23T08:55:00+08:00", relayed.Source)

	// Its Cancel lifts it; the same Cancel again answers the same.
	cancelDoc, err := os.ReadFile(filepath.Join(upstreamDir, "rainstorm-cancel.xml"))
	require.NoError(t, err)
	for range 2 {
		res = post(commander, cancelDoc)
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var got plans.Warning
		res.decode(t, &got)
		assert.Equal(t, imported.ID, got.ID)
		assert.Equal(t, plans.WarningLifted, got.Status)
		assert.Contains(t, got.LiftReason, "雨势减弱")
	}
	assert.Equal(t, "normal", modeOf(t, f, h, "990101"))

	res = do(t, h, request{method: "GET", path: "/api/v1/warnings/W999999/cap", token: viewer})
	assert.Equal(t, http.StatusNotFound, res.Code)
}

// capImportFixture is a node with the demo city on the CAP test clock, and
// the upstream sample alert (an orange rainstorm warning).
func capImportFixture(t *testing.T) (*fixture, http.Handler, []byte) {
	t.Helper()
	clk := clustertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, shanghai).UTC())
	f := newCAPFixture(t, clk)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	sample, err := os.ReadFile(filepath.Join(upstreamDir, "rainstorm-orange.xml"))
	require.NoError(t, err)
	return f, h, sample
}

func TestCAPImportRefusesWhatItCannotTake(t *testing.T) {
	f, h, sample := capImportFixture(t)
	// edit returns the sample with a new identifier and the replacements.
	edit := func(id string, oldnew ...string) string {
		s := strings.ReplaceAll(string(sample), "990100-QX-20261123085500-RS-ORANGE", id)
		return strings.NewReplacer(oldnew...).Replace(s)
	}
	tests := []struct {
		name   string
		body   string
		status int
		msg    string
	}{
		{"empty", "", 400, "empty"},
		{"not XML", "rainstorm, orange, 990101", 400, "not XML"},
		{"broken XML", `<?xml version="1.0"?><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</identifier>`, 400, "not well-formed XML"},
		{"HTML", "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>502</body></html>", 400, "root element <html>"},
		{"JSON", `{"identifier":"x"}`, 400, "not XML"},
		{"CAP 1.1", edit("V11", "urn:oasis:names:tc:emergency:cap:1.2", "urn:oasis:names:tc:emergency:cap:1.1"), 400, "earlier CAP version"},
		{"missing element", edit("M-1", "<cap:status>Actual</cap:status>", ""), 400, "status: missing"},
		{"unknown region codes", edit("R-1", "990101", "110101", "990102", "110102"), 400, "none of the alert's region codes (110101, 110102)"},
		{"no geocode muster reads", edit("G-1", "GB/T 2260", "FIPS6"), 400, "no region code"},
		{"draft", edit("D-1", "<cap:status>Actual</cap:status>", "<cap:status>Draft</cap:status>"), 400, "status Draft"},
		{"system", edit("S-1", "<cap:status>Actual</cap:status>", "<cap:status>System</cap:status>"), 400, "status System"},
		{"ack", edit("K-1", "<cap:msgType>Alert</cap:msgType>", "<cap:msgType>Ack</cap:msgType>"), 400, "msgType Ack"},
		{"unknown severity", edit("U-1", "<cap:severity>Severe</cap:severity>", "<cap:severity>Unknown</cap:severity>"), 400, "severity"},
		{"expired", edit("E-1", "2026-11-23T20:00:00+08:00", "2026-11-23T08:59:00+08:00"), 400, "has passed"},
		{"update without references", edit("N-1", "<cap:msgType>Alert</cap:msgType>", "<cap:msgType>Update</cap:msgType>"), 400, "without references"},
		{"too large", edit("L-1", "<cap:description>", "<cap:description>"+strings.Repeat("雨", api.CAPImportMaxBody/3)), 413, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root, body: strings.NewReader(tt.body)})
			require.Equal(t, tt.status, res.Code, "%s", res.Body)
			e := res.errorBody(t)
			assert.Contains(t, e.Message, tt.msg)
		})
	}
	res := do(t, h, request{method: "GET", path: "/api/v1/warnings", token: f.root})
	require.Equal(t, http.StatusOK, res.Code)
	assert.JSONEq(t, `{"items":[],"next":""}`, res.Body.String(), "nothing was imported")
	assert.Equal(t, "normal", modeOf(t, f, h, "990101"))

	// Exercise alerts become EXERCISE warnings, and their own alert says so.
	res = do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root,
		body: strings.NewReader(edit("X-1", "<cap:status>Actual</cap:status>", "<cap:status>Exercise</cap:status>"))})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var w plans.Warning
	res.decode(t, &w)
	assert.Equal(t, plans.WarningExercise, w.Purpose)
	res = do(t, h, request{method: "GET", path: "/api/v1/warnings/" + string(w.ID) + "/cap", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	a, err := cap.Parse(res.Body.Bytes())
	require.NoError(t, err)
	assert.Equal(t, cap.StatusExercise, a.Status)
	assert.True(t, strings.HasPrefix(a.Infos[0].Headline, cap.ExerciseMarkZH), a.Infos[0].Headline)
}

func TestCAPWithoutTheWarningsService(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	res := do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root, body: strings.NewReader("<alert/>")})
	assert.Equal(t, http.StatusServiceUnavailable, res.Code)
	res = do(t, h, request{method: "GET", path: "/api/v1/warnings/W000001/cap", token: f.root})
	assert.Equal(t, http.StatusServiceUnavailable, res.Code)
}

// upstreamRef is the reference of the sample orange alert.
const upstreamRef = "qx.990100.example.cn,990100-QX-20261123085500-RS-ORANGE,2026-11-23T08:55:00+08:00"

// TestCAPImportKeepsPurposesApart: an upstream Test or Exercise Update or
// Cancel never lifts a LIVE (Actual) warning, and an Actual one never lifts
// a drill's warning: the cross-purpose reference is refused with 409 and
// nothing changes. Messages of the same purpose lift as before.
func TestCAPImportKeepsPurposesApart(t *testing.T) {
	f, h, sample := capImportFixture(t)
	cancelDoc, err := os.ReadFile(filepath.Join(upstreamDir, "rainstorm-cancel.xml"))
	require.NoError(t, err)
	// alert is the sample under a new identifier, of status, as msgType
	// (Update and Cancel reference refs).
	alert := func(id, status, msgType string, refs ...string) string {
		s := strings.ReplaceAll(string(sample), "990100-QX-20261123085500-RS-ORANGE", id)
		r := strings.NewReplacer("<cap:status>Actual</cap:status>", "<cap:status>"+status+"</cap:status>",
			"<cap:msgType>Alert</cap:msgType>", "<cap:msgType>"+msgType+"</cap:msgType>")
		s = r.Replace(s)
		if len(refs) > 0 {
			s = strings.Replace(s, "<cap:code>预警信号</cap:code>", "<cap:code>预警信号</cap:code><cap:references>"+strings.Join(refs, " ")+"</cap:references>", 1)
		}
		return s
	}
	cancel := func(id, status, ref string) string {
		return strings.NewReplacer("990100-QX-20261123113000-RS-CANCEL", id, "<status>Actual</status>", "<status>"+status+"</status>",
			upstreamRef, ref).Replace(string(cancelDoc))
	}
	post := func(body string) response {
		t.Helper()
		return do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root, body: strings.NewReader(body)})
	}
	warning := func(id plans.WarningID) plans.Warning {
		t.Helper()
		res := do(t, h, request{method: "GET", path: "/api/v1/warnings/" + string(id), token: f.root})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var w plans.Warning
		res.decode(t, &w)
		return w
	}
	count := func() int {
		t.Helper()
		res := do(t, h, request{method: "GET", path: "/api/v1/warnings", token: f.root})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var l plans.List[plans.Warning]
		res.decode(t, &l)
		return len(l.Items)
	}

	// A real orange warning from the met service.
	res := post(string(sample))
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var live plans.Warning
	res.decode(t, &live)
	require.Equal(t, plans.WarningLive, live.Purpose)
	require.Equal(t, "standby", modeOf(t, f, h, "990101"))

	// Its exercise, in the exercise's own feed.
	exerciseRef := "qx.990100.example.cn,X-1,2026-11-23T08:55:00+08:00"
	res = post(alert("X-1", "Exercise", "Alert"))
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var drill plans.Warning
	res.decode(t, &drill)
	require.Equal(t, plans.WarningExercise, drill.Purpose)

	tests := []struct {
		name   string
		body   string
		target plans.Warning
	}{
		{"test update of a LIVE warning", alert("T-UPD", "Test", "Update", upstreamRef), live},
		{"exercise update of a LIVE warning", alert("X-UPD", "Exercise", "Update", upstreamRef), live},
		{"test cancel of a LIVE warning", cancel("T-CNL", "Test", upstreamRef), live},
		{"exercise cancel of a LIVE warning", cancel("X-CNL", "Exercise", upstreamRef), live},
		{"actual update of an EXERCISE warning", alert("A-UPD", "Actual", "Update", exerciseRef), drill},
		{"actual cancel of an EXERCISE warning", cancel("A-CNL", "Actual", exerciseRef), drill},
		{"test cancel of an EXERCISE warning", cancel("T-CNL2", "Test", exerciseRef), drill},
		{"exercise update of both", alert("X-UPD2", "Exercise", "Update", exerciseRef, upstreamRef), live},
	}
	before := count()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := post(tt.body)
			require.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
			e := res.errorBody(t)
			assert.Equal(t, muster.EConflict, e.Code)
			assert.Contains(t, e.Message, string(tt.target.ID))
			assert.Contains(t, e.Message, string(tt.target.Purpose))
			assert.Equal(t, plans.WarningActive, warning(tt.target.ID).Status, "the warning stays in force")
		})
	}
	assert.Equal(t, before, count(), "no warning was created")
	assert.Equal(t, "standby", modeOf(t, f, h, "990101"), "the LIVE warning still holds its regions")

	// The same purpose lifts: the exercise's own cancel, the real one's.
	res = post(cancel("X-CNL3", "Exercise", exerciseRef))
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, plans.WarningLifted, warning(drill.ID).Status)
	assert.Equal(t, plans.WarningActive, warning(live.ID).Status)
	res = post(string(cancelDoc))
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, plans.WarningLifted, warning(live.ID).Status)
	assert.Equal(t, "normal", modeOf(t, f, h, "990101"))
}

// TestCAPImportRefusesItsOwnAlerts: muster's own alerts, relayed back to it
// (its own sender, or its identifiers under another sender), are refused:
// an echo creates no warning and raises no lifted one again.
func TestCAPImportRefusesItsOwnAlerts(t *testing.T) {
	clk, f, h, _ := capCallUpFixture(t, 100)
	res := do(t, h, request{method: "POST", path: "/api/v1/warnings", token: f.root, body: jsonBody(map[string]any{
		"regions": []string{"990103"}, "level": "橙", "event": "暴雨", "headline": "临江区暴雨橙色预警", "expires_in": "12h"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var w plans.Warning
	res.decode(t, &w)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990104"}, "level": "III", "purpose": "LIVE", "reason": "暴雨内涝"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var a notify.Activation
	res.decode(t, &a)
	get := func(path string) string {
		t.Helper()
		res := do(t, h, request{method: "GET", path: path, token: f.root})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		return res.Body.String()
	}
	warningDoc := get("/api/v1/warnings/" + string(w.ID) + "/cap")
	activationDoc := get("/api/v1/activations/" + string(a.ID) + "/cap")
	clk.Add(time.Hour)
	res = do(t, h, request{method: "POST", path: "/api/v1/warnings/" + string(w.ID) + "/lift", token: f.root, body: jsonBody(map[string]string{"reason": "雨势减弱"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	liftDoc := get("/api/v1/warnings/" + string(w.ID) + "/cap")

	relay := strings.NewReplacer("<sender>"+capSender+"</sender>", "<sender>relay.example.cn</sender>")
	tests := []struct {
		name, body, msg string
	}{
		{"its warning", warningDoc, "muster's own"},
		{"its lifted warning, as issued", warningDoc, "muster's own"},
		{"its warning's cancel", liftDoc, "muster's own"},
		{"its activation", activationDoc, "muster's own"},
		{"its warning under a relay's sender", relay.Replace(warningDoc), capSender + ":warning:"},
		{"its activation under a relay's sender", relay.Replace(activationDoc), capSender + ":activation:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NotEqual(t, warningDoc, relay.Replace(warningDoc), "the relay's sender is swapped in")
			res := do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root, body: strings.NewReader(tt.body)})
			require.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
			e := res.errorBody(t)
			assert.Equal(t, muster.EConflict, e.Code)
			assert.Contains(t, e.Message, tt.msg)
		})
	}
	res = do(t, h, request{method: "GET", path: "/api/v1/warnings", token: f.root})
	require.Equal(t, http.StatusOK, res.Code)
	var l plans.List[plans.Warning]
	res.decode(t, &l)
	require.Len(t, l.Items, 1, "no warning came of the echoes")
	assert.Equal(t, plans.WarningLifted, l.Items[0].Status)
	assert.Equal(t, "normal", modeOf(t, f, h, "990103"))
}

// TestStoodDownActivationAsCAP: once stood down, an activation's CAP is no
// longer an Alert in force but the Cancel of it, sent at the stand-down,
// with its reason as note; the Cancel stays if the call-up is retracted
// afterwards. A call-up stood down by its retraction keeps its Alert: the
// correction is its Cancel.
func TestStoodDownActivationAsCAP(t *testing.T) {
	xmllintPath(t)
	clk, f, h, viewer := capCallUpFixture(t, 300)
	res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990102"}, "level": "III", "purpose": "LIVE", "reason": "暴雨内涝"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var a notify.Activation
	res.decode(t, &a)
	capPath := "/api/v1/activations/" + string(a.ID) + "/cap"
	orig, _ := getCAP(t, h, viewer, capPath, "activation-in-force")
	require.Equal(t, cap.MsgTypeAlert, orig.MsgType)

	clk.Add(90 * time.Minute)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(a.ID) + "/stand-down", token: f.root,
		body: jsonBody(map[string]string{"reason": "雨情减弱，转入战后恢复"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	ended, doc := getCAP(t, h, viewer, capPath, "activation-stood-down")
	assert.Equal(t, cap.MsgTypeCancel, ended.MsgType, "no longer an alert in force")
	assert.Equal(t, orig.Identifier+":stand-down", ended.Identifier)
	assert.Equal(t, orig.Sender, ended.Sender)
	assert.Equal(t, orig.Reference().String(), ended.References)
	assert.Equal(t, "雨情减弱，转入战后恢复", ended.Note)
	assert.Equal(t, "2026-11-23T10:30:00+08:00", cap.FormatTime(ended.Sent.Time), "sent at the stand-down")
	assert.Equal(t, cap.StatusActual, ended.Status)
	assert.Equal(t, orig.Scope, ended.Scope)
	assert.Empty(t, ended.Infos)

	// Retracted after it ended: what receivers were told stays.
	clk.Add(time.Minute)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(a.ID) + "/retract", token: f.root,
		body: jsonBody(notify.RetractRequest{Message: "此次召集区域有误，请忽略。"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	_, again := getCAP(t, h, viewer, capPath, "activation-stood-down")
	assert.Equal(t, string(doc), string(again))

	// A drill cut short by hand is an Exercise Cancel.
	res = do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(map[string]any{
		"plan_id": "flood-control", "regions": []string{"990104"}, "level": "IV", "purpose": "EXERCISE", "reason": "防汛通讯演练"})})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var drill notify.Activation
	res.decode(t, &drill)
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(drill.ID) + "/stand-down", token: f.root,
		body: jsonBody(map[string]string{"reason": "演练结束"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	res = do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(drill.ID) + "/cap", token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	requireSchemaValid(t, res.Body.Bytes())
	dc, err := cap.Parse(res.Body.Bytes())
	require.NoError(t, err)
	assert.Equal(t, cap.MsgTypeCancel, dc.MsgType)
	assert.Equal(t, cap.StatusExercise, dc.Status)
	assert.Equal(t, "演练结束", dc.Note)
}
