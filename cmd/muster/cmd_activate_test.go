package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// Region codes are read each once, and what to type to confirm is each
// region once, however they were written.
func TestCodeList(t *testing.T) {
	assert.Equal(t, []plans.RegionCode{"990101", "990102"}, codeList(" 990101,990102, 990101 ,,"))
	assert.Equal(t, "990101,990102", plans.JoinCodes(codeList("990101, 990102\n"), ","))
	assert.Empty(t, codeList(" , "))
	assert.Equal(t, []plans.RegionCode{"990101", "990103", "990105"}, codeList("990101，990103、990105\n"), "a Chinese input method's separators")
	assert.Equal(t, []plans.RegionCode{"990103", "990101"}, codeList("990103 990101"))
}

// The typed confirmation takes the previewed codes in any order with any
// separator; other codes are said and asked again, up to three times; an
// empty line or a word cancels.
func TestConfirmCodes(t *testing.T) {
	regions := []plans.RegionCode{"990101", "990103"}
	for _, tc := range []struct {
		name, typed string
		ok          bool
		asked       int // times asked again
	}{
		{"as previewed", "990101,990103\n", true, 0},
		{"Chinese comma", "990101，990103\n", true, 0},
		{"顿号", "990101、990103\n", true, 0},
		{"other order, spaces", "990103 990101\n", true, 0},
		{"a typo, then right", "990101,990104\n990101,990103\n", true, 1},
		{"one missing, then right", "990101\n990103,990101\n", true, 1},
		{"wrong three times", "990101\n990103\n990102\n990101,990103\n", false, 2},
		{"a typo, then Enter", "990101,990104\n\n", false, 1},
		{"no", "no\n", false, 0},
		{"Enter", "\n", false, 0},
		{"end of input", "", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w strings.Builder
			assert.Equal(t, tc.ok, confirmCodes(bufio.NewReader(strings.NewReader(tc.typed)), &w, regions))
			assert.Equal(t, tc.asked, strings.Count(w.String(), "the preview is for 990101,990103"), w.String())
		})
	}
}

// A flag that decides what a command does, given twice with different
// values, is a usage error: the last one does not silently win (a drill's
// --purpose exercise turned LIVE by a --purpose live added at the end). The
// same value twice is fine. Nothing is sent: no server is listening.
func TestDecidingFlagsGivenTwice(t *testing.T) {
	env := []string{"MUSTER_ADDR=http://" + freePort(t), "MUSTER_TOKEN=mst_x"}
	activate := []string{"activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "exercise", "--reason", "演练", "--yes"}
	schedule := []string{"drill", "schedule", "flood-control", "--region", "990101", "--level", "IV", "--type", "notification", "--cron", "0 9 * * 1"}
	issue := []string{"warning", "issue", "--region", "990101", "--level", "blue", "--event", "大风", "--headline", "大风蓝色预警"}
	for _, tc := range []struct {
		name string
		args []string
		want string // "" for accepted: it goes on to the (absent) server
	}{
		{"activate purpose", append(slices.Clone(activate), "--purpose", "LIVE"), `--purpose given twice with different values ("exercise", then "LIVE")`},
		{"activate level", append(slices.Clone(activate), "--level", "II"), `--level given twice with different values ("IV", then "II")`},
		{"activate reason", append(slices.Clone(activate), "--reason", "实战"), `--reason given twice`},
		{"activate region", append(slices.Clone(activate), "--region", "990102"), `--region given twice`},
		{"activate version", append(slices.Clone(activate), "--version", "1", "--version", "2"), `--version given twice with different values ("1", then "2")`},
		{"activate same purpose twice", append(slices.Clone(activate), "--purpose", "exercise"), ""},
		{"activate same version twice", append(slices.Clone(activate), "--version", "2", "--version", "02"), ""},
		{"drill schedule level", append(slices.Clone(schedule), "--level", "I"), `--level given twice with different values ("IV", then "I")`},
		{"drill schedule type", append(slices.Clone(schedule), "--type", "full-scale"), `--type given twice with different values ("notification", then "full-scale")`},
		{"drill schedule same level twice", append(slices.Clone(schedule), "--level", "IV"), ""},
		{"warning issue level", append(slices.Clone(issue), "--level", "red"), `--level given twice with different values ("blue", then "red")`},
		{"warning issue same level twice", append(slices.Clone(issue), "--level", "blue"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) { usageErrorOrOn(t, env, tc.args, tc.want) })
	}
}

// With --yes there is no preview to read, but its warnings still go to
// standard error before the activation: a script's log shows that it called
// the same people again, or that its LIVE call-up stopped drills.
func TestActivateYesShowsPreviewWarnings(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", addr, "--people", "200", "--log-level", "warn")
	token := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	env := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + token}
	activate := func(purpose, reason string, more ...string) (plans.ActivationID, string) {
		t.Helper()
		r := runCLI(t, env, append([]string{"activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", purpose, "--reason", reason, "--yes", "-o", "json"}, more...)...)
		require.Zero(t, r.code, r.stderr)
		var a notify.Activation
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &a), r.stdout)
		return a.ID, r.stderr
	}

	first, stderr := activate("exercise", "第一次演练")
	assert.Empty(t, stderr, "nothing to warn of")
	// A second drill over the same people is meant (--repeat: 演练重叠
	// refuses it otherwise); the preview still says it calls them again.
	second, stderr := activate("exercise", "第二次演练", "--repeat")
	assert.Equal(t, "ALREADY ACTIVE — this plan is already calling up these regions ("+string(first)+") for the same purpose: starting it again calls their people again.\n", stderr)
	live, stderr := activate("live", "暴雨")
	assert.Equal(t, "DRILLS STOP — the drills running here ("+string(first)+", "+string(second)+") are stood down when this LIVE activation starts.\n", stderr)

	// The same LIVE command again is refused; --repeat calls them again.
	again := []string{"activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "live", "--reason", "暴雨", "--yes"}
	r := runCLI(t, env, again...)
	assert.Equal(t, 1, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	require.Len(t, lines, 3, r.stderr)
	assert.True(t, strings.HasPrefix(lines[0], "ALREADY ACTIVE — "), "the preview's warning first: %s", lines[0])
	// Its people are the LIVE call-up's: every one is called up already.
	assert.Regexp(t, `^ALREADY CALLED UP — (\d+) of these (\d+) people are called up already by active LIVE call-ups: `+string(live)+` \(示例市防汛应急预案 IV级 in .+: (\d+) people\)\. `, lines[1])
	if m := regexp.MustCompile(`— (\d+) of these (\d+) people .*: (\d+) people\)`).FindStringSubmatch(lines[1]); assert.NotNil(t, m, lines[1]) {
		assert.Equal(t, m[1], m[2], "all of them")
		assert.Equal(t, m[1], m[3], "by the one call-up")
	}
	// It stops at the preview, before asking the API to activate, and
	// says why once: in the error line.
	assert.True(t, strings.HasPrefix(lines[2], "muster: nothing was activated: REFUSED AS A REPEAT — activation "+string(live)+" (flood-control, level IV, LIVE) is already active"), "%s", lines[2])
	assert.Contains(t, lines[2], "ask again with --repeat")
	r = runCLI(t, env, append(again, "--repeat", "-o", "json")...)
	require.Zero(t, r.code, r.stderr)
	var repeated notify.Activation
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &repeated), r.stdout)
	assert.NotEqual(t, live, repeated.ID)
}

// stand-down --force asks the node to stand a correction down although it
// has messages to go; without it the body has no force at all.
func TestStandDownForceIsSent(t *testing.T) {
	var bodies []map[string]any
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		require.NoError(t, json.NewDecoder(r.Body).Decode(&body))
		bodies = append(bodies, body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"id": "A000004", "status": "stood_down"})
	})
	assert.Equal(t, "activation A000004 stood down\n", mustRunOnFake(t, api, "stand-down", "A000004", "--reason", "更正内容有误", "--force"))
	mustRunOnFake(t, api, "stand-down", "A000004", "--reason", "结束")
	require.Len(t, bodies, 2)
	assert.Equal(t, map[string]any{"reason": "更正内容有误", "force": true}, bodies[0])
	assert.Equal(t, map[string]any{"reason": "结束"}, bodies[1])
}

// A request that waits for approval tells its requester whom it texts
// about it, or that no approver has a phone on record and they must tell
// them themselves; muster status says what became of each text.
func TestActivateSaysWhoIsTextedToApprove(t *testing.T) {
	pending := notify.Activation{ID: "A000007", PlanTitle: "示例市防汛应急预案", Level: "I", Purpose: notify.PurposeLive, RegionNames: "西林区",
		Status: notify.StatusPendingApproval, ApprovalsRequired: 2, ApprovalDeadline: time.Now().Add(30 * time.Minute), NoApproverPhone: true}
	activate := []string{"activate", "flood-control", "--region", "990101", "--level", "I", "--purpose", "live", "--reason", "暴雨", "--yes"}
	out := mustRunOnFake(t, fakeAPI{"POST /api/v1/activations": pending}, activate...)
	assert.Contains(t, out, "waits for approval (1 of 2)")
	assert.Contains(t, out, "\n  no approver has a phone on record: tell them yourself (muster token create --phone gives an approver's token one)\n")

	pending.NoApproverPhone = false
	pending.ApproversNotified = []notify.ApproverNotice{{Holder: "李四", Phone: "+8613900000002", State: notify.NoticeDue}, {Holder: "钱七", Phone: "+8613900000009", State: notify.NoticeDue}}
	out = mustRunOnFake(t, fakeAPI{"POST /api/v1/activations": pending}, activate...)
	assert.Contains(t, out, "\n  texting the approvers: 李四, 钱七\n")

	pending.ApproversNotified[0].State = notify.NoticeSent
	pending.ApproversNotified[1].State, pending.ApproversNotified[1].Error = notify.NoticeFailed, "send sms: permanent error 21211 (HTTP 400): invalid number"
	assert.Equal(t, "approvers texted: 李四 sent; 钱七 failed (send sms: permanent error 21211 (HTTP 400): invalid number)", approversTexted(pending))
	assert.Empty(t, approversTexted(notify.Activation{Status: notify.StatusPendingApproval}), "a request from before rules 12 says nothing")
}

// muster status of a rejected request says who rejected it and why, and
// no longer that nobody was texted about it.
func TestStatusOfARejectedRequest(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	rejected := notify.Activation{ID: "A000008", PlanTitle: "示例市防汛应急预案", Level: "I", Purpose: notify.PurposeLive, RegionNames: "西林区",
		Status: notify.StatusRejected, ApprovalsRequired: 2, ApprovalDeadline: at.Add(30 * time.Minute), NoApproverPhone: true,
		Decisions: []notify.Decision{{By: "值班领导", At: at.Add(5 * time.Minute), Reason: "水位未达启动条件"}}}
	out := mustRunOnFake(t, fakeAPI{"GET /api/v1/activations/A000008": notify.ActivationStatus{Activation: rejected}}, "status", "A000008")
	assert.Contains(t, out, "rejected by 值班领导 at "+showTime(at.Add(5*time.Minute), time.Local, secondLayout)+": 水位未达启动条件; nothing was sent\n")
	assert.NotContains(t, out, "no approver has a phone")
}

// stand-down's help says what a LIVE stand-down leaves: its regions in
// recovery (恢复), not back to normal, and how that ends.
func TestStandDownHelpSaysRecovery(t *testing.T) {
	out := mustRunOnFake(t, fakeAPI{}, "stand-down", "--help")
	assert.NotContains(t, out, "switch its regions back")
	assert.Contains(t, out, "recovery (恢复)")
	assert.Contains(t, out, "muster end-recovery --region CODE[,CODE] --reason TEXT")
	root := newRoot()
	cmd, _, err := root.Find([]string{"stand-down"})
	require.NoError(t, err)
	assert.Contains(t, cmd.Short, "recovery (恢复)", "the one line muster --help shows")
}

// muster stand-down of a LIVE call-up names its regions now in recovery
// (恢复) and how to end it: the regions do not go back to normal, and
// before, the command said nothing of it. A drill's names none.
func TestStandDownNamesTheRegionsInRecovery(t *testing.T) {
	live := notify.Activation{ID: "A000008", Purpose: notify.PurposeLive, Status: notify.StatusStoodDown,
		Regions: []plans.RegionCode{"990102"}, RegionNames: "江北区"}
	api := fakeAPI{
		"POST /api/v1/activations/A000008/stand-down": live,
		"GET /api/v1/modes":                           plans.RegionMode{Region: "990102", Mode: plans.ModeRecovery, From: "990102"},
	}
	out := mustRunOnFake(t, api, "stand-down", "A000008", "--reason", "雨情缓解")
	assert.Equal(t, "activation A000008 stood down\nin recovery (恢复) now: 江北区 (990102); muster end-recovery --region 990102 --reason TEXT ends it\n", out)

	api["GET /api/v1/modes"] = plans.RegionMode{Region: "990102", Mode: plans.ModeEmergency, Level: "II"}
	out = mustRunOnFake(t, api, "stand-down", "A000008", "--reason", "雨情缓解")
	assert.Equal(t, "activation A000008 stood down\n", out, "another call-up holds it: not in recovery")

	drill := live
	drill.Purpose = notify.PurposeExercise
	api["POST /api/v1/activations/A000008/stand-down"] = drill
	delete(api, "GET /api/v1/modes")
	out = mustRunOnFake(t, api, "stand-down", "A000008", "--reason", "演练结束")
	assert.Equal(t, "activation A000008 stood down\n", out, "a drill switches no region")
}

// The preview's own warnings (a long SMS) are printed with the others:
// under the preview a person confirms, and with --yes on standard error.
func TestActivatePrintsThePreviewsWarnings(t *testing.T) {
	const long = "LONG SMS — each recipient's SMS runs to about 12 segments (UCS-2, 67 characters a part; the sample 780 characters): providers bill every part."
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			DryRun bool `json:"dry_run"`
		}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
		w.Header().Set("Content-Type", "application/json")
		if req.DryRun {
			json.NewEncoder(w).Encode(notify.Preview{Activation: notify.Activation{Plan: "flood-control", Level: "IV", Purpose: notify.PurposeLive}, Total: 1,
				Sample: &notify.SampleSMS{Name: "曹倩", Encoding: "UCS-2", Chars: 780, Segments: 12, Text: "测"}, Warnings: []string{long}})
			return
		}
		json.NewEncoder(w).Encode(notify.Activation{ID: "A000001", Plan: "flood-control", Level: "IV", Purpose: notify.PurposeLive, Status: notify.StatusActive, Recipients: 1})
	})
	args := []string{"activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "live", "--reason", "暴雨"}
	_, stderr, err := runOnFake(t, api, args...)
	require.Error(t, err, "no codes typed: cancelled")
	assert.Contains(t, stderr, "\n"+long+"\n", "under the preview")
	_, stderr, err = runOnFake(t, api, append(args, "--yes")...)
	require.NoError(t, err)
	assert.Equal(t, long+"\n", stderr)
}

// muster stand-down of the EXERCISE call-up a drill run started says what
// muster drill stand-down says of the run (cut short, not a drill held);
// of an EXERCISE activation no run started it says nothing of runs.
func TestStandDownOfADrillRunsCallUpSaysTheRunIsCutShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", addr, "--people", "200", "--log-level", "warn")
	token := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	env := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + token}

	r := runCLI(t, env, "drill", "schedule", "flood-control", "--region", "990102", "--level", "IV", "--type", "notification",
		"--title", "防汛通讯演练", "--cron", "0 9 * * 1", "--tz", "Asia/Shanghai", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var schedule drills.Schedule
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &schedule), r.stdout)
	r = runCLI(t, env, "drill", "run", string(schedule.ID), "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var run drills.Run
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &run), r.stdout)
	require.NotEmpty(t, run.Activation)

	r = runCLI(t, env, "stand-down", strings.ToLower(string(run.Activation)), "--reason", "结束")
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `^activation \S+ stood down\n(end notice \S+ goes to \d+ (person|people) \(muster status \S+\)\n)?`+string(run.ID)+` ran \S+ \(< 15m\): recorded as cut short, not as a drill held; it does not count as a drill of 990102 \(muster drill overdue\)\n$`, r.stdout)

	r = runCLI(t, env, "activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "exercise", "--reason", "通讯演练", "--yes", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var a notify.Activation
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &a), r.stdout)
	r = runCLI(t, env, "stand-down", string(a.ID), "--reason", "结束")
	require.Zero(t, r.code, r.stderr)
	// Whether an end notice goes out depends on whether any SMS was sent
	// before the stand-down; no line speaks of a drill run.
	assert.Regexp(t, `^activation `+string(a.ID)+` stood down\n(end notice \S+ goes to \d+ (person|people) \(muster status \S+\)\n)?$`, r.stdout, "no drill run started it")
}
