package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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

// capImportBody is the body POST /cap answers an Alert, Update or Cancel
// with: the warning and what the import found.
type capImportBody struct {
	plans.Warning
	IgnoredGeocodes []plans.RegionCode `json:"ignored_geocodes"`
	CoveredGeocodes []plans.RegionCode `json:"covered_geocodes"`
	SupersededBy    *struct {
		Action string            `json:"action"`
		By     plans.UpstreamRef `json:"by"`
	} `json:"superseded_by"`
	Awaited []plans.UpstreamRef `json:"awaited"`
}

// capDoc returns the sample alert (sent 08:55 +08:00, the fixture's clock
// at 09:00) under identifier id, of msgType, referencing refs (identifiers
// of the same sender, sent at 08:50), with the replacements oldnew.
func capDoc(sample []byte, id, msgType string, refs []string, oldnew ...string) string {
	s := strings.ReplaceAll(string(sample), "990100-QX-20261123085500-RS-ORANGE", id)
	msg := "<cap:msgType>" + msgType + "</cap:msgType>"
	if len(refs) > 0 {
		var rs []string
		for _, r := range refs {
			rs = append(rs, "qx.990100.example.cn,"+r+",2026-11-23T08:50:00+08:00")
		}
		msg += "<cap:references>" + strings.Join(rs, " ") + "</cap:references>"
	}
	s = strings.Replace(s, "<cap:msgType>Alert</cap:msgType>", msg, 1)
	return strings.NewReplacer(oldnew...).Replace(s)
}

// An Update before its original, a Cancel before its alert: the late
// alert neither becomes a second warning in force nor stays in force
// (rules 11; rules 10 is pinned in plans/warning_order_test.go).
func TestCAPImportOutOfOrder(t *testing.T) {
	f, h, sample := capImportFixture(t)
	post := func(body string) response {
		return do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root, body: strings.NewReader(body)})
	}

	res := post(capDoc(sample, "T2U", "Update", []string{"T2"}, "<cap:severity>Severe</cap:severity>", "<cap:severity>Extreme</cap:severity>"))
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var up capImportBody
	res.decode(t, &up)
	assert.Equal(t, plans.WarningRed, up.Level)

	res = post(capDoc(sample, "T2", "Alert", nil))
	require.Equal(t, http.StatusOK, res.Code, "the late original: %s", res.Body)
	var late capImportBody
	res.decode(t, &late)
	assert.Equal(t, up.ID, late.ID, "answered with the update's warning")
	assert.Equal(t, "/api/v1/warnings/"+string(up.ID), res.Header().Get("Location"))
	require.NotNil(t, late.SupersededBy)
	assert.Equal(t, "updated", late.SupersededBy.Action)
	assert.Equal(t, "T2U", late.SupersededBy.By.Identifier)

	// A Cancel of an alert not yet arrived is remembered: 202.
	res = post(capDoc(sample, "T4C", "Cancel", []string{"T4"}))
	require.Equal(t, http.StatusAccepted, res.Code, "%s", res.Body)
	var awaited capImportBody
	res.decode(t, &awaited)
	assert.Equal(t, []plans.UpstreamRef{{Sender: "qx.990100.example.cn", Identifier: "T4"}}, awaited.Awaited)

	res = post(capDoc(sample, "T4", "Alert", nil))
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var born capImportBody
	res.decode(t, &born)
	assert.Equal(t, plans.WarningLifted, born.Status, "born cancelled")
	require.NotNil(t, born.SupersededBy)
	assert.Equal(t, "cancelled", born.SupersededBy.Action)
	assert.Equal(t, "T4C", born.SupersededBy.By.Identifier)

	res = do(t, h, request{method: "GET", path: "/api/v1/warnings?active=true", token: f.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	var list struct{ Items []plans.Warning }
	res.decode(t, &list)
	require.Len(t, list.Items, 1, "only the update is in force: %s", res.Body)
	assert.Equal(t, up.ID, list.Items[0].ID)

	// The met service cancels the chain by its latest message.
	res = post(capDoc(sample, "T2C", "Cancel", []string{"T2U"}))
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, "normal", modeOf(t, f, h, "990101"))
	assert.Equal(t, "normal", modeOf(t, f, h, "990102"))
}

// An alert whose clock is wrong is refused: sent far in the future, or
// expiring before it is sent.
func TestCAPImportRefusesClockErrors(t *testing.T) {
	clk := clustertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, shanghai).UTC())
	f := newCAPFixture(t, clk)
	withDemo(t, f, f.handler(f.c.Nodes[0]))
	sample, err := os.ReadFile(filepath.Join(upstreamDir, "rainstorm-orange.xml"))
	require.NoError(t, err)
	// A server on the test clock: the node's clock is 09:00 +08:00.
	n := f.c.Nodes[0].Node
	h := api.New(api.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CAPSender: capSender, Clock: clk},
		api.Deps{Cluster: n, Tokens: access.NewService(n, n), Plans: plans.NewService(n, n),
			Warnings: plans.NewWarningService(n, n, plans.WarningConfig{Clock: clk})}).Handler()
	tests := []struct {
		name   string
		oldnew []string
		status int
		msg    string
	}{
		{"sent months ahead", []string{"<cap:sent>2026-11-23T08:55:00+08:00", "<cap:sent>2027-06-06T11:10:00+08:00",
			"2026-11-23T20:00:00+08:00", "2027-06-06T20:00:00+08:00"}, 400, "ahead of this server's clock"},
		{"sent in local time labelled UTC", []string{"<cap:sent>2026-11-23T08:55:00+08:00", "<cap:sent>2026-11-23T08:55:00-00:00"}, 400, "ahead of this server's clock"},
		{"expires before sent", []string{"<cap:sent>2026-11-23T08:55:00+08:00", "<cap:sent>2026-11-23T20:30:00+08:00"}, 400, "is not after sent"},
		{"expires at sent", []string{"2026-11-23T20:00:00+08:00", "2026-11-23T08:55:00+08:00"}, 400, "is not after sent"},
		{"sent 10 minutes ahead: clocks drift", []string{"<cap:sent>2026-11-23T08:55:00+08:00", "<cap:sent>2026-11-23T09:10:00+08:00"}, 201, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root,
				body: strings.NewReader(capDoc(sample, "CLK-"+string(rune('A'+i)), "Alert", nil, tt.oldnew...))})
			require.Equal(t, tt.status, res.Code, "%s", res.Body)
			if tt.msg != "" {
				assert.Contains(t, res.errorBody(t).Message, tt.msg)
			}
		})
	}
}

// A 12- or 15-digit statistical code (统计用区划代码) padded with zeros
// names the district or street it pads; a code still unknown is named in
// the answer, not only in the log.
func TestCAPImportPaddedStatisticalCodes(t *testing.T) {
	f, h, sample := capImportFixture(t)
	tests := []struct {
		name             string
		codes            [2]string
		regions, ignored []plans.RegionCode
	}{
		{"12-digit district", [2]string{"990101000000", "990102"}, []plans.RegionCode{"990101", "990102"}, nil},
		{"15-digit district and 12-digit street", [2]string{"990101000000000", "990102001000"}, []plans.RegionCode{"990101", "990102001"}, nil},
		{"unknown padded code", [2]string{"990199000000", "990102"}, []plans.RegionCode{"990102"}, []plans.RegionCode{"990199000000"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := capDoc(sample, "PAD-"+string(rune('A'+i)), "Alert", nil,
				"<cap:value>990101</cap:value>", "<cap:value>"+tt.codes[0]+"</cap:value>",
				"<cap:value>990102</cap:value>", "<cap:value>"+tt.codes[1]+"</cap:value>")
			res := do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root, body: strings.NewReader(body)})
			require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
			var got capImportBody
			res.decode(t, &got)
			assert.Equal(t, tt.regions, got.Regions)
			assert.Equal(t, tt.ignored, got.IgnoredGeocodes)
		})
	}
}

// A Cancel's note, which becomes the lift's reason, may run over several
// lines (an indented or wrapped <note>): the Cancel is taken all the same,
// both for an alert not yet arrived (202, remembered) and for one in force
// (lifted).
func TestCAPCancelWithAMultiLineNote(t *testing.T) {
	f, h, sample := capImportFixture(t)
	post := func(body string) response {
		return do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root, body: strings.NewReader(body)})
	}
	note := func(id string, refs ...string) string {
		return capDoc(sample, id, "Cancel", refs, "<cap:code>预警信号</cap:code>",
			"<cap:code>预警信号</cap:code>\n  <cap:note>\n    雨势减弱，\r\n\t解除暴雨橙色预警。\n  </cap:note>")
	}

	res := post(note("N1C", "N1"))
	require.Equal(t, http.StatusAccepted, res.Code, "a Cancel before its alert: %s", res.Body)
	res = post(capDoc(sample, "N1", "Alert", nil))
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var born capImportBody
	res.decode(t, &born)
	assert.Equal(t, plans.WarningLifted, born.Status, "remembered as cancelled")
	assert.Equal(t, "normal", modeOf(t, f, h, "990101"))

	res = post(capDoc(sample, "N2", "Alert", nil))
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	assert.Equal(t, "standby", modeOf(t, f, h, "990101"))
	res = post(note("N2C", "N2"))
	require.Equal(t, http.StatusOK, res.Code, "a Cancel of an alert in force: %s", res.Body)
	var lifted capImportBody
	res.decode(t, &lifted)
	assert.Equal(t, plans.WarningLifted, lifted.Status)
	assert.Equal(t, "雨势减弱， 解除暴雨橙色预警。 (CAP cancel N2C)", lifted.LiftReason, "on one line")
	assert.Equal(t, "normal", modeOf(t, f, h, "990101"))
}

// A Cancel creates no warning, so the times a warning would carry do not
// keep it out: one whose expires is at its sent, or whose sender's clock
// runs ahead, still lifts the warning it cancels (refused, the region
// would stay in standby until someone lifted it by hand).
func TestCAPCancelWithClockErrorsStillLifts(t *testing.T) {
	clk := clustertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, shanghai).UTC())
	f := newCAPFixture(t, clk)
	fh := f.handler(f.c.Nodes[0]) // modes are read through it
	withDemo(t, f, fh)
	sample, err := os.ReadFile(filepath.Join(upstreamDir, "rainstorm-orange.xml"))
	require.NoError(t, err)
	n := f.c.Nodes[0].Node
	h := api.New(api.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CAPSender: capSender, Clock: clk},
		api.Deps{Cluster: n, Tokens: access.NewService(n, n), Plans: plans.NewService(n, n),
			Warnings: plans.NewWarningService(n, n, plans.WarningConfig{Clock: clk})}).Handler()
	post := func(body string) response {
		return do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root, body: strings.NewReader(body)})
	}
	for _, tt := range []struct {
		name   string
		oldnew []string
	}{
		{"expires at sent", []string{"2026-11-23T20:00:00+08:00", "2026-11-23T08:55:00+08:00"}},
		{"sent an hour ahead", []string{"<cap:sent>2026-11-23T08:55:00+08:00", "<cap:sent>2026-11-23T10:00:00+08:00"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := "CC-" + strings.ReplaceAll(tt.name, " ", "-")
			res := post(capDoc(sample, id, "Alert", nil))
			require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
			assert.Equal(t, "standby", modeOf(t, f, fh, "990101"))
			res = post(capDoc(sample, id+"-C", "Cancel", []string{id}, tt.oldnew...))
			require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
			var lifted capImportBody
			res.decode(t, &lifted)
			assert.Equal(t, plans.WarningLifted, lifted.Status)
			assert.Equal(t, "normal", modeOf(t, f, fh, "990101"))

			// An Alert with the same times is still refused.
			res = post(capDoc(sample, id+"-A", "Alert", nil, tt.oldnew...))
			assert.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
		})
	}
}

// A padded code left out because it lies within another of the alert's
// regions is named in covered_geocodes as the alert gave it, as ignored
// ones are: the feed's operator looks for their own codes.
func TestCAPImportCoveredGeocodesAsGiven(t *testing.T) {
	f, h, sample := capImportFixture(t)
	body := capDoc(sample, "COV-1", "Alert", nil,
		"<cap:value>990101</cap:value>", "<cap:value>990101000000</cap:value>",
		"<cap:value>990102</cap:value>", "<cap:value>990101001000</cap:value>")
	res := do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root, body: strings.NewReader(body)})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var got capImportBody
	res.decode(t, &got)
	assert.Equal(t, []plans.RegionCode{"990101"}, got.Regions)
	assert.Equal(t, []plans.RegionCode{"990101001000"}, got.CoveredGeocodes)
	assert.Empty(t, got.IgnoredGeocodes)
}

// A Cancel that lists the whole chain, original first (as senders do),
// answers with the warning it ended, the update's, not the original's
// that the update had lifted before.
func TestCAPCancelOfAChainAnswersWithTheWarningItEnded(t *testing.T) {
	f, h, sample := capImportFixture(t)
	post := func(body string) response {
		return do(t, h, request{method: "POST", path: "/api/v1/cap", token: f.root, body: strings.NewReader(body)})
	}
	res := post(capDoc(sample, "CH1", "Alert", nil))
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	res = post(capDoc(sample, "CH1U", "Update", []string{"CH1"}, "<cap:severity>Severe</cap:severity>", "<cap:severity>Extreme</cap:severity>"))
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	var up capImportBody
	res.decode(t, &up)

	for range 2 { // and the same again
		res = post(capDoc(sample, "CH1C", "Cancel", []string{"CH1", "CH1U"}))
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var got capImportBody
		res.decode(t, &got)
		assert.Equal(t, up.ID, got.ID, "the update's warning, which the Cancel lifted")
		assert.Equal(t, "/api/v1/warnings/"+string(up.ID), res.Header().Get("Location"))
		assert.Equal(t, plans.WarningLifted, got.Status)
		assert.Contains(t, got.LiftReason, "CAP cancel CH1C")
	}
	assert.Equal(t, "normal", modeOf(t, f, h, "990101"))
}

// An upstream thread (an alert, its Updates, their Cancel) goes out as a
// thread (rules 13): the warning of an Update is an Update referencing the
// earlier warnings' alerts, original first, and a warning it replaced is
// served as that latest message, never as a Cancel of its own, which a
// receiver that ends a thread on a Cancel of its first alert (muster from
// rules 13) would take for the end of the Update too; once the thread is
// cancelled upstream, every warning of it is the Cancel of the whole
// thread. A muster of another city importing what this one serves, as
// it serves it, ends with the warning in force, and none once cancelled.
// The lift reasons say in Chinese, with the English in brackets, which
// alert updated a warning, and that a Cancel gave no note.
func TestCAPOfAnUpstreamThread(t *testing.T) {
	f, h, sample := capImportFixture(t)
	viewer, _ := createToken(t, h, f.root, "viewer", access.Viewer)
	post := func(h http.Handler, token, body string) capImportBody {
		t.Helper()
		res := do(t, h, request{method: "POST", path: "/api/v1/cap", token: token, body: strings.NewReader(body)})
		require.Contains(t, []int{http.StatusCreated, http.StatusOK}, res.Code, "%s", res.Body)
		var got capImportBody
		res.decode(t, &got)
		return got
	}
	served := func(id plans.WarningID) []byte {
		t.Helper()
		res := do(t, h, request{method: "GET", path: "/api/v1/warnings/" + string(id) + "/cap", token: viewer})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		requireSchemaValid(t, res.Body.Bytes())
		return res.Body.Bytes()
	}
	ref := func(w capImportBody) string {
		return capSender + "," + capSender + ":warning:" + string(w.ID) + ",2026-11-23T09:00:00+08:00"
	}

	// A city downstream runs muster too, with the same regions.
	clk := clustertest.NewClock(time.Date(2026, 11, 23, 9, 0, 0, 0, shanghai).UTC())
	down := newWarningFixture(t, clk, "muster.990200.example.cn")
	dh := down.handler(down.c.Nodes[0])
	withDemo(t, down, dh)
	relay := func(doc []byte) capImportBody { t.Helper(); return post(dh, down.root, string(doc)) }

	first := post(h, f.root, capDoc(sample, "RP1", "Alert", nil))
	relay(served(first.ID))
	up := post(h, f.root, capDoc(sample, "RP1U", "Update", []string{"RP1"}, "<cap:severity>Severe</cap:severity>", "<cap:severity>Extreme</cap:severity>"))
	assert.Equal(t, []plans.WarningID{first.ID}, up.Replaces)

	update, doc := getCAP(t, h, viewer, "/api/v1/warnings/"+string(up.ID)+"/cap", "warning-update-relayed")
	assert.Equal(t, cap.MsgTypeUpdate, update.MsgType)
	assert.Equal(t, capSender+":warning:"+string(up.ID), update.Identifier)
	assert.Equal(t, ref(first), update.References)
	assert.Equal(t, string(doc), string(served(first.ID)), "the replaced warning is served as the Update that replaced it")
	var old plans.Warning
	res := do(t, h, request{method: "GET", path: "/api/v1/warnings/" + string(first.ID), token: viewer})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	res.decode(t, &old)
	assert.Equal(t, "已由上游预警 RP1U 更新，现为预警 "+string(up.ID)+" (updated by upstream alert RP1U, now warning "+string(up.ID)+")", old.LiftReason)

	got := relay(served(first.ID))
	assert.Equal(t, plans.WarningActive, got.Status, "downstream, the update is in force")
	assert.Equal(t, plans.WarningRed, got.Level)
	again := relay(served(up.ID))
	assert.Equal(t, got.ID, again.ID, "the same document from either address is one alert")

	up2 := post(h, f.root, capDoc(sample, "RP1U2", "Update", []string{"RP1U"}))
	update2 := served(up2.ID)
	a, err := cap.Parse(update2)
	require.NoError(t, err)
	assert.Equal(t, ref(first)+" "+ref(up), a.References, "the whole thread, original first")
	relay(update2)

	ended := post(h, f.root, capDoc(sample, "RP1C", "Cancel", []string{"RP1U2"}))
	assert.Equal(t, up2.ID, ended.ID)
	assert.Equal(t, "上游已取消，未说明原因 (cancelled upstream, no reason given) (CAP cancel RP1C)", ended.LiftReason)
	c, doc := getCAP(t, h, viewer, "/api/v1/warnings/"+string(up2.ID)+"/cap", "warning-thread-cancelled")
	assert.Equal(t, cap.MsgTypeCancel, c.MsgType)
	assert.Equal(t, ref(first)+" "+ref(up)+" "+ref(up2), c.References)
	assert.Equal(t, ended.LiftReason, c.Note)
	for _, w := range []capImportBody{first, up} {
		assert.Equal(t, string(doc), string(served(w.ID)), "%s: the thread's Cancel", w.ID)
	}

	relay(served(first.ID))
	var l plans.List[plans.Warning]
	res = do(t, dh, request{method: "GET", path: "/api/v1/warnings?active=true", token: down.root})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	res.decode(t, &l)
	assert.Empty(t, l.Items, "downstream, the thread is over")
}
