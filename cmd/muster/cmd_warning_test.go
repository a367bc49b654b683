package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/notify"
	"muster/plans"
)

func TestParseExpires(t *testing.T) {
	tests := []struct {
		in, at, within string
		bad            bool
	}{
		{in: ""},
		{in: "6h", within: "6h0m0s"},
		{in: " 90m ", within: "1h30m0s"},
		{in: "2026-07-20T18:00:00+08:00", at: "2026-07-20T18:00:00+08:00"},
		{in: "2026-07-20T10:00:00Z", at: "2026-07-20T10:00:00Z"},
		{in: "tomorrow", bad: true},
		{in: "-1h", bad: true},
		{in: "2026-07-20 18:00", bad: true},
	}
	for _, tt := range tests {
		at, within, err := parseExpires(tt.in)
		if tt.bad {
			var ee *exitError
			require.True(t, errors.As(err, &ee), "%q: %v", tt.in, err)
			assert.Equal(t, 2, ee.code, "a bad --expires is a usage error")
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.at, at, tt.in)
		assert.Equal(t, tt.within, within, tt.in)
	}
}

func TestWarningIssueListShowLift(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", addr,
		"--people", "500", "--log-level", "warn", "--warning-response-timeout", "1s")
	token := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	env := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + token}

	r := runCLI(t, env, "warning", "issue", "--region", "990101", "--level", "红", "--event", "暴雨", "--headline", "东湖区暴雨红色预警",
		"--category", "自然灾害", "--expires", "6h", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var w struct {
		ID          string `json:"id"`
		Level       string `json:"level"`
		Source      string `json:"source"`
		Expires     string `json:"expires"`
		Suggestions []struct {
			Plan, Level string
		} `json:"suggestions"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &w), r.stdout)
	assert.Equal(t, "W000001", w.ID)
	assert.Equal(t, "red", w.Level)
	assert.Equal(t, "cli", w.Source)
	assert.NotEmpty(t, w.Expires)
	require.Len(t, w.Suggestions, 1, "the one natural-disaster plan of the demo")
	assert.Equal(t, "flood-control", w.Suggestions[0].Plan)
	assert.Equal(t, "I", w.Suggestions[0].Level)

	r = runCLI(t, env, "warning", "issue", "--region", "990102", "--level", "blue", "--event", "大风", "--headline", "江北区大风蓝色预警")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "warning W000002: 蓝色预警 江北区")
	assert.Contains(t, r.stdout, "standby (临战)")
	assert.Contains(t, r.stdout, "muster activate flood-control --region 990102 --level IV")
	r = runCLI(t, env, "mode", "--region", "990101001001001")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "standby (临战)")
	assert.Contains(t, r.stdout, "from 990101")

	// The red warning goes unanswered past the 1 s response time: marked.
	deadline := time.Now().Add(20 * time.Second)
	for {
		r = runCLI(t, env, "warning", "list")
		require.Zero(t, r.code, r.stderr)
		if strings.Contains(r.stdout, "NO RESPONSE") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3, r.stdout)
	assert.Contains(t, lines[1], "W000001")
	assert.Contains(t, lines[1], "!! NO RESPONSE since")
	assert.NotContains(t, lines[2], "NO RESPONSE", "blue needs no response")
	assert.Contains(t, r.stderr, "1 orange or red warning above has no activation over its regions")
	r = runCLI(t, env, "warning", "list", "--unanswered", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var list struct {
		Items []struct {
			ID     string `json:"id"`
			Prompt bool   `json:"prompt"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &list), r.stdout)
	require.Len(t, list.Items, 1)
	assert.Equal(t, "W000001", list.Items[0].ID)
	assert.True(t, list.Items[0].Prompt)
	r = runCLI(t, env, "warning", "show", "W000001")
	require.Zero(t, r.code, r.stderr)
	assert.True(t, strings.HasPrefix(r.stdout, "!! NO RESPONSE"), r.stdout)
	assert.Contains(t, r.stdout, "990101 东湖区")
	assert.Contains(t, r.stdout, "muster activate flood-control --region 990101 --level I")

	// Bad input: usage errors exit 2, refusals 1, one line each.
	oneLineError(t, runCLI(t, env, "warning", "issue", "--region", "990101", "--level", "purple", "--event", "x", "--headline", "y"), 2, `--level "purple": want blue, yellow, orange or red`)
	oneLineError(t, runCLI(t, env, "warning", "issue", "--region", "990199", "--level", "red", "--event", "x", "--headline", "y"), 1, "990199 does not exist")
	oneLineError(t, runCLI(t, env, "warning", "issue", "--region", "990101", "--level", "red", "--event", "x", "--headline", "y", "--expires", "2020-01-01T00:00:00Z"), 1, "in the past")
	oneLineError(t, runCLI(t, env, "warning", "issue", "--region", "990101", "--level", "red", "--event", "x", "--headline", "y", "--expires", "yesterday"), 2, "--expires")
	oneLineError(t, runCLI(t, env, "warning", "issue", "--region", "990101", "--level", "red"), 2, "--headline")
	oneLineError(t, runCLI(t, env, "warning", "issue", "--region", "990101", "--level", "red", "--event", "暴雨", "--headline", "【演练】东湖区暴雨红色预警"), 1,
		`headline "【演练】东湖区暴雨红色预警" carries the exercise mark 【演练】: a LIVE warning must not look like a drill (真实预警不得带有【演练】标识)`)
	oneLineError(t, runCLI(t, env, "warning", "lift", "W000001"), 2, "--reason")

	// A CAP alert with a geocode muster does not have: warning show
	// names it (rules 12 keeps it in the warning).
	sample, err := os.ReadFile(filepath.Join("..", "..", "cap", "testdata", "upstream", "rainstorm-orange.xml"))
	require.NoError(t, err)
	sh := time.FixedZone("CST", 8*3600)
	sent := time.Now().In(sh).Truncate(time.Second)
	doc := strings.NewReplacer("2026-11-23T08:55:00+08:00", sent.Format(time.RFC3339), "2026-11-23T20:00:00+08:00", sent.Add(6*time.Hour).Format(time.RFC3339),
		"<cap:value>990102</cap:value>", "<cap:value>990199000000</cap:value>").Replace(string(sample))
	req, err := http.NewRequest("POST", "http://"+addr+"/api/v1/cap", strings.NewReader(doc))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var imported struct {
		ID      string   `json:"id"`
		Ignored []string `json:"ignored_geocodes"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&imported))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, []string{"990199000000"}, imported.Ignored)
	r = runCLI(t, env, "warning", "show", imported.ID)
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "990101 东湖区")
	if muster.Rules >= 12 {
		assert.Contains(t, r.stdout, "ignored geocodes:  990199000000: the upstream alert's codes that name no region of muster")
	}
	r = runCLI(t, env, "warning", "lift", imported.ID, "--reason", "测试完毕")
	require.Zero(t, r.code, r.stderr)

	// Lifting: the district leaves standby; once only.
	r = runCLI(t, env, "warning", "lift", "W000001", "--reason", "雨停")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "warning W000001 lifted")
	oneLineError(t, runCLI(t, env, "warning", "lift", "W000001", "--reason", "again"), 1, "already lifted")
	r = runCLI(t, env, "mode", "--region", "990101")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "normal (平时)")
	r = runCLI(t, env, "warning", "list", "--active")
	require.Zero(t, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "W000001")
	assert.Contains(t, r.stdout, "W000002")
	assert.Empty(t, r.stderr)
}

// An upstream drill's warning is marked as one, and the activations it
// suggests are drills; a LIVE warning's are live.
func TestDrillWarningsAreMarkedAndSuggestDrills(t *testing.T) {
	wa := plans.Warning{ID: "W000003", Level: plans.WarningOrange, Purpose: plans.WarningExercise, Headline: "暴雨橙色预警",
		Regions: []plans.RegionCode{"990104"}, SuggestedLevel: "II",
		Suggestions: []plans.Suggestion{{Plan: "flood-control", Title: "防汛应急预案", Level: "II", LevelName: "重大"}}}
	assert.Equal(t, plans.ExerciseMark+"EXERCISE", drillMark(wa))
	var out bytes.Buffer
	printSuggestions(&out, wa)
	assert.Contains(t, out.String(), "--purpose exercise")
	assert.NotContains(t, out.String(), "--purpose live")

	wa.Purpose = plans.WarningLive
	assert.Empty(t, drillMark(wa))
	out.Reset()
	printSuggestions(&out, wa)
	assert.Contains(t, out.String(), "--purpose live")
	wa.Purpose = "" // stored before purposes were recorded: LIVE
	assert.Empty(t, drillMark(wa))
}

// A warning of no hazard category lists the plans of every hazard and
// says why; one with a category does not.
func TestSuggestionsSayWhenNoCategoryNarrowsThem(t *testing.T) {
	wa := plans.Warning{ID: "W000003", Level: plans.WarningOrange, Headline: "突发事件橙色预警",
		Regions: []plans.RegionCode{"990104"}, SuggestedLevel: "II",
		Suggestions: []plans.Suggestion{{Plan: "flood-control", Title: "防汛应急预案", Level: "II", LevelName: "重大"}}}
	var out bytes.Buffer
	printSuggestions(&out, wa)
	assert.Contains(t, out.String(), "no category, and the event names no hazard known: plans of every hazard are listed; --category narrows them")
	wa.Category = plans.HazardNatural
	out.Reset()
	printSuggestions(&out, wa)
	assert.NotContains(t, out.String(), "no category")
}

// A retracted activation answers no warning: the response cell names the
// standing ones only, and says NO RESPONSE when none stands.
func TestResponseCellLeavesOutRetracted(t *testing.T) {
	at := time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC)
	w := plans.Warning{Status: plans.WarningActive, Level: plans.WarningRed, RespondBy: at.Add(10 * time.Minute),
		Responses: []plans.WarningResponse{{Activation: "A000001", At: at, Retracted: at.Add(time.Minute)}}}
	assert.Equal(t, "due "+localTime(w.RespondBy), responseCell(w.At(at.Add(5*time.Minute))))
	assert.Equal(t, "!! NO RESPONSE since "+localTime(w.RespondBy), responseCell(w.At(at.Add(20*time.Minute))))
	w.Responses = append(w.Responses, plans.WarningResponse{Activation: "A000002", At: at.Add(15 * time.Minute)})
	assert.Equal(t, "answered: A000002", responseCell(w.At(at.Add(20*time.Minute))))
}

// A warning issued over regions a LIVE call-up already holds says it is
// answered, where muster warning issue said a response was expected and
// NO RESPONSE would follow; one without says by when one is due.
func TestWarningIssueSaysItIsAlreadyAnswered(t *testing.T) {
	at := time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC)
	w := plans.Warning{Status: plans.WarningActive, Level: plans.WarningRed, RespondBy: at.Add(10 * time.Minute)}
	assert.Equal(t, "an activation over these regions is expected by "+localTime(w.RespondBy)+"; without one the warning is marked NO RESPONSE", responseDueSaid(w))
	w.Responses = []plans.WarningResponse{{Activation: "A000001", Region: "990101", At: at}, {Activation: "A000001", Region: "990102", At: at},
		{Activation: "A000002", At: at, Retracted: at}}
	assert.Equal(t, "answered by A000001, already active over these regions: no further response is due", responseDueSaid(w))
	w.Level, w.RespondBy = plans.WarningBlue, time.Time{}
	assert.Empty(t, responseDueSaid(w))
}

// An unanswered warning's show names the LIVE requests awaiting approval
// over its regions (the region, above or below it), which answer it once
// approved, where it said only that no activation was over them.
func TestWarningShowNamesTheRequestAwaitingApproval(t *testing.T) {
	w := plans.Warning{Regions: []plans.RegionCode{"990101"}}
	for _, c := range []struct {
		name    string
		pending map[plans.ActivationID][]plans.RegionCode
		want    string
	}{
		{"none", nil, ""},
		{"same region", map[plans.ActivationID][]plans.RegionCode{"A000002": {"990101"}}, " (A000002 awaits approval: muster approve A000002)"},
		{"above", map[plans.ActivationID][]plans.RegionCode{"A000003": {"990100"}}, " (A000003 awaits approval: muster approve A000003)"},
		{"below", map[plans.ActivationID][]plans.RegionCode{"A000004": {"990101001"}}, " (A000004 awaits approval: muster approve A000004)"},
		{"elsewhere", map[plans.ActivationID][]plans.RegionCode{"A000005": {"990102"}}, ""},
		{"two", map[plans.ActivationID][]plans.RegionCode{"A000007": {"990101"}, "A000006": {"990101001", "990102"}}, " (A000006, A000007 await approval: muster approve A000006)"},
	} {
		assert.Equal(t, c.want, awaitingSaid(w, c.pending), c.name)
	}
}

// An upstream drill's warning with no drill over its regions is not marked
// NO RESPONSE nor counted with the LIVE ones (muster_warnings_unanswered
// counts LIVE only), and nothing tells the commander to activate a plan for
// real: list and show say a drill answers it.
func TestDrillWarningWithoutDrillIsNotALiveResponsePrompt(t *testing.T) {
	at := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	exercise := plans.Warning{ID: "W000006", Status: plans.WarningActive, Level: plans.WarningRed, Purpose: plans.WarningExercise,
		Regions: []plans.RegionCode{"990102"}, Event: "暴雨", Headline: "测试预警QX-EX2", IssuedAt: at, RespondBy: at.Add(time.Minute),
		SuggestedLevel: "I", Suggestions: []plans.Suggestion{{Plan: "flood-control", Title: "防汛应急预案", Level: "I", LevelName: "特别重大"}}}
	live := exercise
	live.ID, live.Purpose, live.Headline, live.Regions = "W000007", plans.WarningLive, "暴雨红色预警", []plans.RegionCode{"990101"}
	exercise, live = exercise.At(at.Add(time.Hour)), live.At(at.Add(time.Hour))
	require.True(t, exercise.Prompt)
	api := fakeAPI{
		"GET /api/v1/warnings":         map[string]any{"items": []plans.Warning{exercise, live}, "next": ""},
		"GET /api/v1/warnings/W000006": exercise,
	}
	out, errOut, err := runOnFake(t, api, "warning", "list", "--unanswered")
	require.NoError(t, err, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	assert.NotContains(t, lines[1], "NO RESPONSE", "a drill's warning")
	assert.Contains(t, lines[1], "no drill response since")
	assert.Contains(t, lines[2], "!! NO RESPONSE since")
	assert.Contains(t, errOut, "1 orange or red warning above has no activation over its regions: activate a plan", "the LIVE one only")
	assert.Contains(t, errOut, "1 exercise or test warning above (an upstream drill) has no drill over its regions")
	assert.Contains(t, errOut, "a LIVE call-up does not answer it")

	out = mustRunOnFake(t, api, "warning", "show", "W000006")
	assert.False(t, strings.HasPrefix(out, "!! NO RESPONSE"), out)
	assert.True(t, strings.HasPrefix(out, "no drill response: no EXERCISE or TEST activation over these regions"), out)
	assert.Contains(t, out, "--purpose exercise")
	assert.NotContains(t, out, "--purpose live")
}

// A LIVE warning's suggested command is one muster activate accepts: no
// drill word from the headline goes into its --reason, and without a
// reason fit for a LIVE call-up the command says to write one.
func TestLiveSuggestionCarriesNoDrillWord(t *testing.T) {
	wa := plans.Warning{ID: "W000007", Level: plans.WarningOrange, Purpose: plans.WarningLive, Event: "暴雨", Headline: "测试预警QX-N1",
		Regions: []plans.RegionCode{"990103"}, SuggestedLevel: "II",
		Suggestions: []plans.Suggestion{{Plan: "flood-control", Title: "防汛应急预案", Level: "II", LevelName: "重大"}}}
	var out bytes.Buffer
	printSuggestions(&out, wa)
	assert.Contains(t, out.String(), `muster activate flood-control --region 990103 --level II --purpose live --reason '暴雨橙色预警'`)
	assert.NotContains(t, out.String(), "测试")

	wa.Event = "演练"
	out.Reset()
	printSuggestions(&out, wa)
	assert.Contains(t, out.String(), "muster activate flood-control --region 990103 --level II --purpose live\n")
	assert.NotContains(t, out.String(), "--reason '")
	assert.Contains(t, out.String(), `add --reason TEXT saying why: the warning's headline and event say "测试", which a LIVE call-up's reason may not`)
}

// A suggested command runs as printed in a shell: the headline it carries
// as the reason reaches muster as written, $, backticks and quotes too.
func TestSuggestedReasonIsOneShellWord(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh here")
	}
	for _, headline := range []string{
		"市气象台发布暴雨橙色预警",
		"暴雨 $HOME `id` $(id) \\n \"引号\" 'single' it's",
		"'", "''", "\\",
	} {
		wa := plans.Warning{ID: "W000008", Level: plans.WarningOrange, Purpose: plans.WarningLive, Event: "暴雨", Headline: headline,
			Regions: []plans.RegionCode{"990103"}, SuggestedLevel: "II",
			Suggestions: []plans.Suggestion{{Plan: "flood-control", Title: "防汛应急预案", Level: "II", LevelName: "重大"}}}
		var out bytes.Buffer
		printSuggestions(&out, wa)
		_, word, ok := strings.Cut(strings.TrimSpace(out.String()), "--reason ")
		require.True(t, ok, out.String())
		got, err := exec.Command(sh, "-c", "printf %s "+word).Output()
		require.NoError(t, err, word)
		assert.Equal(t, headline, string(got), "printed as %s", word)
	}
}

// A warning imported from a CAP alert shows the alert's geocodes that
// name no region (those areas are not warned) and, when the alert came
// after its Cancel, that Cancel; a warning without them shows neither.
func TestWarningShowSaysWhatItsAlertLeftOut(t *testing.T) {
	at := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	born := plans.Warning{ID: "W000009", Status: plans.WarningLifted, Level: plans.WarningOrange, Purpose: plans.WarningLive,
		Regions: []plans.RegionCode{"990101"}, Areas: []plans.WarningArea{{Code: "990101", Name: "东湖区"}}, Event: "暴雨",
		Headline: "暴雨橙色预警", Source: "cap:qx.990100.example.cn,T4,2026-11-23T08:55:00+08:00", IssuedAt: at, IssuedBy: "feed",
		LiftedAt: at, LiftedBy: "feed", LiftReason: "cancelled before this alert arrived: 雨势减弱 (CAP cancel T4C)",
		IgnoredGeocodes: []plans.RegionCode{"990198000000", "990199"},
		SupersededBy: &plans.Supersession{Alert: plans.UpstreamRef{Sender: "qx.990100.example.cn", Identifier: "T4"},
			By: plans.UpstreamRef{Sender: "qx.990100.example.cn", Identifier: "T4C"}, Action: plans.SupersededCancelled,
			Reason: "雨势减弱 (CAP cancel T4C)", Purpose: plans.WarningLive, At: at.Add(-time.Minute)}}
	plain := born
	plain.ID, plain.IgnoredGeocodes, plain.SupersededBy = "W000010", nil, nil
	api := fakeAPI{"GET /api/v1/warnings/W000009": born, "GET /api/v1/warnings/W000010": plain}

	out := mustRunOnFake(t, api, "warning", "show", "W000009")
	assert.Contains(t, out, "ignored geocodes:  990198000000,990199: the upstream alert's codes that name no region of muster; those areas are not warned", out)
	assert.Contains(t, out, "superseded:        CAP T4C of qx.990100.example.cn ("+localTime(at.Add(-time.Minute))+") cancelled alert T4 before it arrived: created lifted, it put no region in standby", out)

	assert.NotContains(t, out, "replaced by:", "not replaced")

	// An Update created lifted because its thread was cancelled first
	// (rules 13) says which alert of the thread was.
	update := born
	update.ID, update.Source = "W000013", "cap:qx.990100.example.cn,T4U,2026-11-23T09:05:00+08:00"
	out = mustRunOnFake(t, fakeAPI{"GET /api/v1/warnings/W000013": update}, "warning", "show", "W000013")
	assert.Contains(t, out, "CAP T4C of qx.990100.example.cn ("+localTime(at.Add(-time.Minute))+") cancelled alert T4, which this one updates, before this one arrived: created lifted", out)

	// A warning an upstream Update lifted names the Update's (rules 13).
	replaced := plain
	replaced.ID, replaced.ReplacedBy = "W000011", "W000012"
	out = mustRunOnFake(t, fakeAPI{"GET /api/v1/warnings/W000011": replaced}, "warning", "show", "W000011")
	assert.Contains(t, out, "replaced by:  W000012 (the warning of the upstream Update that lifted this one: muster warning show W000012)", out)
	assert.NotContains(t, out, "replaces:", "it replaces none")
	// The Update's warning names those it lifted (rules 13).
	replacing := plain
	replacing.ID, replacing.Replaces = "W000012", []plans.WarningID{"W000011", "W000014"}
	out = mustRunOnFake(t, fakeAPI{"GET /api/v1/warnings/W000012": replacing}, "warning", "show", "W000012")
	assert.Contains(t, out, "replaces:  W000011, W000014 (the warnings in force this upstream Update lifted; its CAP is an Update referencing them)", out)

	out = mustRunOnFake(t, api, "warning", "show", "W000009", "-o", "json")
	var got plans.Warning
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.Equal(t, born.IgnoredGeocodes, got.IgnoredGeocodes)
	require.NotNil(t, got.SupersededBy)
	assert.Equal(t, "T4C", got.SupersededBy.By.Identifier)

	out = mustRunOnFake(t, api, "warning", "show", "W000010")
	assert.NotContains(t, out, "ignored geocodes")
	assert.NotContains(t, out, "superseded")
	assert.NotContains(t, out, "English", "issued before rules 13: no English text")

	// What English readers are told (rules 13): the upstream alert's
	// en-US block as it came, or for a warning signal's event (暴雨) the
	// en-US block muster writes; none for another event without English.
	upstreamEN := plain
	upstreamEN.ID, upstreamEN.AreaNamesEN = "W000015", []string{"Donghu District"}
	upstreamEN.EventEN, upstreamEN.HeadlineEN, upstreamEN.DescriptionEN = "Rainstorm", "Orange rainstorm warning for Donghu", "Heavy rain in the next 6 hours."
	signal := plain
	signal.ID, signal.AreaNamesEN, signal.Description = "W000016", []string{"Donghu District"}, "未来6小时降雨量将达50毫米以上。"
	none := plain
	none.ID, none.Event, none.AreaNamesEN = "W000017", "城市内涝", []string{"Donghu District"}
	api = fakeAPI{"GET /api/v1/warnings/W000015": upstreamEN, "GET /api/v1/warnings/W000016": signal, "GET /api/v1/warnings/W000017": none}
	cells := regexp.MustCompile(`(\S) {2,}`) // the table's padding, which other lines widen
	out = cells.ReplaceAllString(mustRunOnFake(t, api, "warning", "show", "W000015"), "$1 ")
	assert.Contains(t, out, "English: (the en-US block of its CAP alert)\n"+
		"  event: Rainstorm\n"+
		"  headline: Orange rainstorm warning for Donghu\n"+
		"  description: Heavy rain in the next 6 hours.\n", out)
	out = cells.ReplaceAllString(mustRunOnFake(t, api, "warning", "show", "W000016"), "$1 ")
	assert.Contains(t, out, "English: (the en-US block of its CAP alert; what was not given in English is written by muster)\n"+
		"  event: Rainstorm\n"+
		"  headline: Orange rainstorm warning for Donghu District\n"+
		"  description: The details are given in Chinese, in the zh-CN block of this alert.\n", out)
	out = mustRunOnFake(t, api, "warning", "show", "W000017")
	assert.NotContains(t, out, "English")
}

// An orange or red warning that expired or was lifted unanswered keeps its
// NO RESPONSE mark, from its due time until it ended (no longer a prompt),
// and show suggests no activation for it (exploratory finding Z13: the
// response was "-" and show offered --purpose live call-ups).
func TestEndedWarningShowsItWentUnanswered(t *testing.T) {
	at := time.Date(2026, 12, 7, 0, 35, 0, 0, time.UTC)
	ended := plans.Warning{ID: "W000001", Status: plans.WarningExpired, Level: plans.WarningOrange, Purpose: plans.WarningLive,
		Regions: []plans.RegionCode{"990103"}, Event: "暴雨", Headline: "临江区暴雨橙色预警", IssuedAt: at,
		RespondBy: at.Add(20 * time.Second), Expires: at.Add(45 * time.Second), LiftedAt: at.Add(46 * time.Second), LiftedBy: "warning-expiry", LiftReason: "expired",
		SuggestedLevel: "II", Suggestions: []plans.Suggestion{{Plan: "flood-control", Title: "防汛应急预案", Level: "II", LevelName: "重大"}}}
	expired := ended.At(at.Add(time.Hour))
	assert.False(t, expired.Prompt)
	assert.Equal(t, ended.LiftedAt, expired.UnansweredUntil)
	lifted := ended
	lifted.ID, lifted.Status, lifted.LiftedAt = "W000002", plans.WarningLifted, at.Add(30*time.Second)
	lifted = lifted.At(at.Add(time.Hour))
	notYetLifted := ended // past expiry, the leader has not lifted it yet
	notYetLifted.ID, notYetLifted.Status, notYetLifted.LiftedAt = "W000003", plans.WarningActive, time.Time{}
	notYetLifted = notYetLifted.At(at.Add(time.Hour))
	liftedInTime := ended
	liftedInTime.ID, liftedInTime.Status, liftedInTime.LiftedAt = "W000004", plans.WarningLifted, at.Add(10*time.Second)
	liftedInTime = liftedInTime.At(at.Add(time.Hour))
	answered := ended
	answered.ID, answered.Responses = "W000005", []plans.WarningResponse{{Activation: "A000001", At: at.Add(time.Minute)}}
	answered = answered.At(at.Add(time.Hour))

	api := fakeAPI{
		"GET /api/v1/warnings":         map[string]any{"items": []plans.Warning{expired, lifted, notYetLifted, liftedInTime, answered}, "next": ""},
		"GET /api/v1/warnings/W000001": expired,
	}
	out, errOut, err := runOnFake(t, api, "warning", "list")
	require.NoError(t, err, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 6, out)
	assert.Contains(t, lines[1], "NO RESPONSE from "+localTime(ended.RespondBy)+" until it expired at "+localTime(ended.LiftedAt))
	assert.NotContains(t, lines[1], "!!", "no longer a prompt")
	assert.Contains(t, lines[2], "NO RESPONSE from "+localTime(ended.RespondBy)+" until it was lifted at "+localTime(lifted.LiftedAt))
	assert.Contains(t, lines[3], "NO RESPONSE from "+localTime(ended.RespondBy)+" until it expired at "+localTime(ended.Expires))
	assert.NotContains(t, lines[4], "NO RESPONSE", "lifted before it was due")
	assert.Contains(t, lines[5], "answered: A000001")
	assert.NotContains(t, errOut, "has no activation", "an ended warning prompts nobody")

	out = mustRunOnFake(t, api, "warning", "show", "W000001")
	assert.Contains(t, out, "NO RESPONSE from "+localTime(ended.RespondBy)+" until it expired at "+localTime(ended.LiftedAt))
	assert.NotContains(t, out, "muster activate", "an expired warning suggests no activation")
	assert.NotContains(t, out, "--purpose live")
}

// The 叫应 of a warning names whom it texted, what became of each text
// and when; with no commander's phone on record it says nobody was.
func TestPromptedSaid(t *testing.T) {
	at := time.Date(2026, 7, 20, 1, 10, 0, 0, time.UTC)
	w := plans.Warning{Prompted: &plans.WarningPrompted{At: at, Texts: []plans.TextNotice{
		{Holder: "周一", State: plans.NoticeSent}, {Holder: "冯四", State: plans.NoticeFailed, Error: "send sms: permanent error 21211"}}}}
	assert.Equal(t, "已叫应 周一 sent, 冯四 failed (send sms: permanent error 21211) at "+localTime(at), promptedSaid(w))
	w.Prompted.Texts = w.Prompted.Texts[1:]
	w.Prompted.Texts[0].Error = notify.NoLiveAccountError
	assert.Equal(t, "未能叫应 冯四 failed ("+notify.NoLiveAccountError+") at "+localTime(at), promptedSaid(w), "nobody was reached")
	w.Prompted = &plans.WarningPrompted{At: at, NoPhone: true}
	assert.Contains(t, promptedSaid(w), "no commander has a phone on record")
	assert.Empty(t, promptedSaid(plans.Warning{}))
}

// The escalation of a warning's 叫应 names whom it texted, what became of
// each text and when; before it, while the warning is unanswered, when it
// is due; with no approver's phone on record it says nobody was.
func TestEscalatedSaid(t *testing.T) {
	at := time.Date(2026, 7, 20, 1, 10, 0, 0, time.UTC)
	by := at.Add(30 * time.Minute)
	w := plans.Warning{Prompt: true, Prompted: &plans.WarningPrompted{At: at, EscalateBy: by, Texts: []plans.TextNotice{{Holder: "周一", State: plans.NoticeSent}}}}
	assert.Equal(t, "升级叫应 due "+localTime(by)+" (the approvers with a phone are texted if it is still unanswered)", escalatedSaid(w))
	w.Escalated = &plans.WarningPrompted{At: by, Texts: []plans.TextNotice{{Holder: "吴二", State: plans.NoticeSent}}}
	assert.Equal(t, "已升级叫应 吴二 sent at "+localTime(by), escalatedSaid(w))
	w.Escalated.Texts[0].State, w.Escalated.Texts[0].Error = plans.NoticeFailed, notify.NoLiveAccountError
	assert.Equal(t, "未能升级叫应 吴二 failed ("+notify.NoLiveAccountError+") at "+localTime(by), escalatedSaid(w))
	w.Escalated = &plans.WarningPrompted{At: by, NoPhone: true}
	assert.Contains(t, escalatedSaid(w), "no approver has a phone on record")
	w.Escalated, w.Prompt = nil, false
	assert.Empty(t, escalatedSaid(w), "answered: nothing is due")
	assert.Empty(t, escalatedSaid(plans.Warning{}))
	// A commander acknowledged the 叫应 (已应): the escalation is not due.
	w.Prompt, w.Prompted.Texts[0].AckedAt = true, at.Add(3*time.Minute)
	assert.Equal(t, "升级叫应 not needed: a commander acknowledged the 叫应 (已应); the approvers are not texted", escalatedSaid(w))
}

// Who acknowledged a warning's 叫应 (已应) by replying to its text, when,
// at which stage and with what, and, while nothing answers the warning,
// that it started no response; nothing when nobody did.
func TestAckedSaid(t *testing.T) {
	at := time.Date(2026, 7, 20, 1, 10, 0, 0, time.UTC)
	w := plans.Warning{Prompt: true, Prompted: &plans.WarningPrompted{At: at, Texts: []plans.TextNotice{
		{Holder: "周一", State: plans.NoticeSent, AckedAt: at.Add(3 * time.Minute), AckBody: "1"}, {Holder: "冯四", State: plans.NoticeSent}}}}
	assert.Equal(t, `已应 周一 at `+localTime(at.Add(3*time.Minute))+` (叫应: "1"); an acknowledgement starts no response (未启动响应)`, ackedSaid(w))
	w.Escalated = &plans.WarningPrompted{At: at.Add(10 * time.Minute), Texts: []plans.TextNotice{{Holder: "吴二", State: plans.NoticeSent, AckedAt: at.Add(11 * time.Minute), AckBody: "收到"}}}
	w.Responses = []plans.WarningResponse{{Activation: "A000001", At: at.Add(12 * time.Minute)}}
	assert.Equal(t, `已应 周一 at `+localTime(at.Add(3*time.Minute))+` (叫应: "1"), 吴二 at `+localTime(at.Add(11*time.Minute))+` (叫应升级: "收到")`, ackedSaid(w), "answered")
	w.Prompted.Texts[0].AckedAt, w.Escalated = time.Time{}, nil
	assert.Empty(t, ackedSaid(w))
	assert.Empty(t, ackedSaid(plans.Warning{}))
}
