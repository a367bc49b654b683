package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// A retraction's correction goes to the people the activation may have
// reached — whose SMS was sent or in flight, or who were called — not to
// people known to have been reached: the CLI says "may".
func TestRetractSaysMayHaveReached(t *testing.T) {
	api := fakeAPI{"POST /api/v1/activations/A000001/retract": notify.RetractResult{
		Retracted:  notify.Activation{ID: "A000001", Retraction: &notify.Retraction{Correction: "A000002", Recipients: 1, Calls: 1}},
		Correction: notify.Activation{ID: "A000002", Recipients: 1},
	}}
	out := mustRunOnFake(t, api, "retract", "A000001", "--message", "前一条通知系误发，请忽略。")
	assert.Equal(t, "activation A000001 retracted: nothing more of it is sent.\n"+
		"correction A000002 goes to 1 person A000001 may have reached (its SMS to them was sent or in flight, or a call of it was placed to them); 1 of them is also called\n"+
		"follow it with: muster status A000002 (it ends by itself once everything has gone out)\n", out)

	_, _, err := runOnFake(t, api, "retract", "A000001")
	require.Error(t, err)
	assert.Equal(t, "--message is required: what the people the activation may have reached should be told", err.Error())

	st := sampleStatus()
	st.Retraction = &notify.Retraction{By: "值班员", Correction: "A000008", Recipients: 12, Calls: 3}
	var b bytes.Buffer
	printStatus(&b, st, sampleBoard(), 10)
	assert.Contains(t, b.String(), "correction A000008 to 12 people A000007 may have reached (its SMS to them was sent or in flight, or a call of it was placed to them); 3 of them are also called\n")
	assert.NotContains(t, b.String(), "reached them")
}

// Retraction figures and words: the retraction says how many get the
// correction only if the call-up's SMS to them turns out to have gone
// out; a retracted call-up's status says retracted (not stood down) and
// what its correction reached; a correction's status shows no 报到 rate
// or checkpoints (it takes no answers).
func TestRetractionWords(t *testing.T) {
	api := fakeAPI{"POST /api/v1/activations/A000030/retract": notify.RetractResult{
		Retracted:  notify.Activation{ID: "A000030", Retraction: &notify.Retraction{Correction: "A000031", Recipients: 263, InFlight: 136}},
		Correction: notify.Activation{ID: "A000031", Recipients: 263},
	}}
	out := mustRunOnFake(t, api, "retract", "A000030", "--message", "江北区三级误发")
	assert.Contains(t, out, "correction A000031 goes to up to 263 people A000030 may have reached (its SMS to them was sent or in flight, or a call of it was placed to them); 136 of them get it only if its SMS to them, in flight at the retraction, turns out to have gone out\n")

	st := sampleStatus()
	st.Status = notify.StatusStoodDown
	st.Retraction = &notify.Retraction{By: "值班员", Correction: "A000008", Recipients: 12}
	st.Counters.ByState[notify.StatePending] = 5
	corr := notify.ActivationStatus{Activation: notify.Activation{ID: "A000008", Status: notify.StatusStoodDown, Retracts: st.ID}}
	corr.Counters.ByState = map[notify.State]int{notify.StateDelivered: 4, notify.StatePending: 8}
	corr.Counters.Total = 12 // as the API gives it: the correction called 12 people
	var b bytes.Buffer
	printStatusOf(&b, st, sampleBoard(), 10, &corr)
	assert.Contains(t, b.String(), "correction A000008 reached 4 of the 12 people A000007 may have reached; 8 NEVER SENT: the correction was stood down before their turn\n")
	assert.Contains(t, b.String(), "5 recipients not sent: the call-up was retracted before their turn\n")

	b.Reset()
	printStatus(&b, corr, sampleBoard(), 10)
	assert.Contains(t, b.String(), "报到 无需回复 (a correction takes no answers)\n")
	assert.NotContains(t, b.String(), "T+5")
	assert.Contains(t, b.String(), "8 recipients not sent: the correction was stood down before their turn\n")
}

// A purpose has one label in each language, wherever the CLI shows it:
// LIVE, EXERCISE, TEST in capitals; 【演练】 and 【测试】 in Chinese (LIVE,
// 实战, is not marked).
func TestPurposeLabels(t *testing.T) {
	for _, tc := range []struct {
		purpose, mark string
	}{
		{"EXERCISE", "【演练】"}, {"TEST", "【测试】"}, {"LIVE", ""}, {"test", "【测试】"},
	} {
		assert.Equal(t, tc.mark, purposeMark(tc.purpose), tc.purpose)
	}
	wa := plans.Warning{ID: "W000004", Level: plans.WarningOrange, Purpose: plans.WarningTest, Headline: "系统测试",
		Regions: []plans.RegionCode{"990104"}, Status: plans.WarningActive}
	assert.Equal(t, "【测试】TEST", drillMark(wa), "a TEST warning is not marked as an exercise")
	wa.Purpose = plans.WarningExercise
	assert.Equal(t, "【演练】EXERCISE", drillMark(wa))

	var b bytes.Buffer
	printRun(&b, drills.Run{ID: "R000001", Status: drills.RunStarted, Activation: "A000003", Participants: 4})
	assert.Contains(t, b.String(), "calls 4 people (EXERCISE, 【演练】)")
}

// Counts agree with their nouns ("1 person", "2 people"), and a level is
// written IV级 everywhere.
func TestCountsAgreeWithTheirNouns(t *testing.T) {
	assert.Equal(t, "1 person", count(1, "person", "people"))
	assert.Equal(t, "0 people", count(0, "person", "people"))
	assert.Equal(t, "2 bytes", count(int64(2), "byte", "bytes"))

	var b bytes.Buffer
	printActivated(&b, notify.Activation{ID: "A000001", PlanTitle: "示例市防汛应急预案", Level: "IV", Purpose: notify.PurposeTest, RegionNames: "东湖区", Status: notify.StatusActive, Recipients: 1})
	assert.Equal(t, "activation A000001: 示例市防汛应急预案 IV级 (TEST) in 东湖区 — 1 recipient; follow it with: muster status A000001\n", b.String())

	b.Reset()
	printPreview(&b, notify.Preview{Activation: notify.Activation{Level: "IV", Purpose: notify.PurposeTest}, Total: 1,
		Sample: &notify.SampleSMS{Name: "曹倩", Encoding: "UCS-2", Chars: 1, Segments: 1, Text: "测"}})
	assert.Contains(t, b.String(), "1 person (0 in more than one role, called once)")
	assert.Contains(t, b.String(), "(UCS-2, 1 char, 1 segment)")

	b.Reset()
	printRun(&b, drills.Run{ID: "R000001", Status: drills.RunStarted, Activation: "A000003", Participants: 1})
	assert.Contains(t, b.String(), "calls 1 person (")

	api := fakeAPI{
		"GET /api/v1/plans/flood-control": plans.PlanVersion{PlanID: "flood-control", Version: 1, Plan: &plans.Plan{ID: "flood-control",
			Levels: []plans.Level{{Code: "IV", Name: "一般", Approvals: 1, Groups: []plans.Group{{Name: "网格力量", Roles: []plans.Role{{Name: "网格长"}}}}}}}},
		"POST /api/v1/roster/import": plans.ImportResult{Rows: 1, Created: 1, Format: "csv", Encoding: "utf-8"},
	}
	out := mustRunOnFake(t, api, "plan", "show", "flood-control")
	assert.Contains(t, out, "一般 — 1 group, 1 role, ack within")
	assert.Contains(t, out, ", 1 approval\n")
	file := filepath.Join(t.TempDir(), "one.csv")
	require.NoError(t, os.WriteFile(file, []byte("姓名,手机,网格\n吴杰,13800138111,990101001001001\n"), 0o600))
	out = mustRunOnFake(t, api, "roster", "import", "-f", file)
	assert.Contains(t, out, "imported: 1 row (csv utf-8)")
}

// An answer the CLI cannot read is said in words a person can act on, not
// encoding/json's, which name Go types.
func TestUnreadableAnswerNamesNoGoTypes(t *testing.T) {
	for _, tc := range []struct {
		name string
		api  http.HandlerFunc
		want string
	}{
		{"not JSON", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>hello</html>")) },
			"the node's answer is not JSON: is --addr a muster node?"},
		{"another shape", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"items": [{"id": "A000001", "level": 4}]}`))
		}, `cannot read the node's answer: "level" is a JSON number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runOnFake(t, tc.api, "status")
			require.Error(t, err)
			msg := unreadableAnswer(err).Error()
			assert.Contains(t, msg, tc.want)
			for _, internal := range []string{"Go struct", "notify.", "plans.", "invalid character"} {
				assert.NotContains(t, msg, internal)
			}
		})
	}
}
