package notify_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// A grid leader called up by the same drill as the four volunteers of
// their grid, all silent: at the 叫应 step the leader gets the report
// naming the volunteers (and the command slot, the first three
// volunteers, one naming the leader), and answers it "收到". Under rules
// 13 the report says it needs no reply, and that "收到" is kept as a note,
// not as the leader's own 到: they stay unanswered and are told how to
// answer their call-up; their next "1" is their answer. The "1" of the
// volunteer sent no report counts as before. Under rules 12 the "收到" to
// the report marked the leader present.
func TestReplyToASuperiorReportIsNotTheLeadersOwnAnswer(t *testing.T) {
	grid := reportGrid(t)
	rows := []string{
		fmt.Sprintf("X001,队员甲,13955550001,%s,志愿者,,,,zh", grid),
		fmt.Sprintf("X002,队员乙,13955550002,%s,志愿者,,,,zh", grid),
		fmt.Sprintf("X003,队员丙,13955550003,%s,志愿者,,,,zh", grid),
		fmt.Sprintf("X004,队员丁,13955550004,%s,志愿者,,,,zh", grid),
		fmt.Sprintf("L001,蔡春,18168249274,%s,社区干部,网格长,,,zh", grid),
	}
	for _, rules := range []int{12, 13} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			r, _, a, report := reportedDrill(t, rules, grid, rows, leaderPhone, "叫应")
			require.Equal(t, 5, a.Recipients, "the leader is called up too")
			require.Len(t, report, 1, "the leader is told of the volunteers")
			require.Contains(t, report[0], "队员丁")
			require.Equal(t, len(report)+3, simBodies(r.sim, "叫应"), "the command slot (the first 3 volunteers) is told of the leader")
			require.False(t, r.stateOf(t, a.ID, "蔡春").Answered())

			reply := drillReplies(t, r)
			toReport := reply(leaderPhone, "收到")
			t.Logf("rules %d: report %q, answered %q", rules, report[0], toReport)
			if rules < 13 {
				assert.NotContains(t, report[0], "无需回复")
				assert.Equal(t, notify.StateAcked, r.stateOf(t, a.ID, "蔡春"), "rules 12: the report's 收到 was taken for the leader's own 到")
				return
			}
			assert.True(t, strings.HasSuffix(report[0], "。本短信无需回复。"), "%s", report[0])
			assert.False(t, r.stateOf(t, a.ID, "蔡春").Answered(), "收到 to the report is not the leader's answer")
			assert.Contains(t, toReport, "<Message>"+notify.ReportTakesNoReply(plans.LangZH, true)+"</Message>", "told the report needs no reply, and how to answer the call-up")

			recorded := "<Message>" + notify.AnswerRecorded(plans.LangZH, true, notify.ReplyWords{}, notify.ReplyAccept, "", nil, notify.ReplyWords{}) + "</Message>"
			assert.Contains(t, reply("+8613955550004", "1"), recorded)
			assert.Equal(t, notify.StateAcked, r.stateOf(t, a.ID, "队员丁"), "the answer of a volunteer sent no report counts as before")

			assert.Contains(t, reply(leaderPhone, "1"), recorded, "the leader's answer is confirmed")
			assert.Equal(t, notify.StateAcked, r.stateOf(t, a.ID, "蔡春"), "the leader's next reply answers their call-up")
			for _, x := range r.recipientsOf(t, a.ID) {
				if x.Name == "蔡春" {
					assert.Equal(t, 2, x.Attempt.Replies)
				}
			}
		})
	}
}

// A report too long for one SMS goes in parts, and a leader (or their
// phone) answers each part in a row: every such reply, within the burst
// after the first and no more than the parts, is taken for the report,
// not the last as the leader's own 到. A reply after the burst answers
// their call-up.
func TestRepliesToEachPartOfAReportAreNotTheLeadersAnswer(t *testing.T) {
	grid := reportGrid(t)
	var rows []string
	for i := range 40 {
		rows = append(rows, fmt.Sprintf("X%03d,队员%03d,139555%05d,%s,志愿者,,,,zh", i, i, i, grid))
	}
	rows = append(rows, fmt.Sprintf("L001,蔡春,18168249274,%s,社区干部,网格长,,,zh", grid))
	r, clock, a, report := reportedDrill(t, 13, grid, rows, leaderPhone, "叫应")
	parts := len(report)
	require.Greater(t, parts, 1, "the report of 40 names goes in parts")

	reply := drillReplies(t, r)
	for i := range parts {
		reply(leaderPhone, "收到")
		assert.False(t, r.stateOf(t, a.ID, "蔡春").Answered(), "the reply to part %d of %d is not the leader's answer", i+1, parts)
	}
	clock.Add(time.Minute)
	reply(leaderPhone, "1")
	assert.Equal(t, notify.StateAcked, r.stateOf(t, a.ID, "蔡春"), "a reply after the report's replies answers the call-up")
}

// A grid leader whose language is English gets the 叫应 report in English
// (rules 13): the plan's and regions' English names, the drill marked
// [EXERCISE] too, the silent people as the roster names them, and that it
// needs no reply. Under rules 12 it was in Chinese.
func TestAReportToAnEnglishSpeakerIsInEnglish(t *testing.T) {
	grid := reportGrid(t)
	rows := []string{
		fmt.Sprintf("X001,队员甲,13955550001,%s,志愿者,,,,zh", grid),
		fmt.Sprintf("X002,队员乙,13955550002,%s,志愿者,,,,zh", grid),
		fmt.Sprintf("L001,Chris Lee,18168249274,%s,社区干部,网格长,,,en", grid),
	}
	for _, rules := range []int{12, 13} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			_, _, _, report := reportedDrill(t, rules, grid, rows, leaderPhone, "队员甲")
			require.Len(t, report, 1, "the leader is told of the volunteers")
			t.Logf("rules %d: %s", rules, report[0])
			if rules < 13 {
				assert.Contains(t, report[0], "叫应：")
				return
			}
			assert.True(t, strings.HasPrefix(report[0], plans.ExerciseMark+plans.ExerciseMarkEN), "%s", report[0])
			assert.Contains(t, report[0], "Call-back: ")
			assert.Contains(t, report[0], "2 people have not answered yet, contact them now: 队员甲 13955550001, 队员乙 13955550002. No reply needed.")
			assert.NotContains(t, report[0], "叫应")
		})
	}
}

// leaderPhone is the grid leader's number in the report tests' rosters.
const leaderPhone = "+8618168249274"

// reportGrid is the demo grid the report tests call up (the generated
// person is in the first).
func reportGrid(t *testing.T) plans.RegionCode {
	t.Helper()
	regions, err := examples.Regions()
	require.NoError(t, err)
	grids := examples.Grids(regions)
	return grids[len(grids)-1]
}

// reportedDrill calls up grid for a drill of plan escalate on a rig whose
// roster is rows, under rules, everyone silent, until the 叫应 step has
// fired and its messages are out. report is the SMS sent to phone that
// contain word.
func reportedDrill(t *testing.T, rules int, grid plans.RegionCode, rows []string, phone, word string) (r *callRig, clock *clustertest.Clock, a notify.Activation, report []string) {
	t.Helper()
	r, clock = nobodyRig(t, rules, rows...)
	n := r.c.WaitLeader(15 * time.Second).Node
	a, err := notify.NewService(n, n, senders).Activate(testCtx(t), "trainer", notify.ActivationRequest{Plan: "escalate",
		Regions: []plans.RegionCode{grid}, Level: "IV", Purpose: "EXERCISE", Reason: "叫应演练"})
	require.NoError(t, err)
	r.waitSettled(t, a.ID, 60*time.Second)
	r.waitSimIdle(t, 30*time.Second)
	clock.Add(10 * time.Minute) // the SMS again, then the superior step
	r.waitFired(t, a.ID, 1)
	r.waitSimIdle(t, 30*time.Second)
	for _, m := range r.sim.Messages(phone) {
		if m.Direction == "outbound-api" && strings.Contains(m.Body, word) {
			report = append(report, m.Body)
		}
	}
	return r, clock, a, report
}

// drillReplies posts SMS replies on the drill account through r's inbound
// webhook, as the provider would, each with a new MessageSid, and returns
// muster's answer (TwiML).
func drillReplies(t *testing.T, r *callRig) func(from, body string) string {
	sid := 0
	return func(from, body string) string {
		t.Helper()
		sid++
		code, out := r.postHook(t, r.nodes[0], "/hooks/twilio/sms-inbound", url.Values{"AccountSid": {drillAcct.SID},
			"MessageSid": {fmt.Sprintf("SMrep%d", sid)}, "From": {from}, "To": {drillAcct.Number}, "Body": {body}}, drillAcct.AuthToken)
		require.Equal(t, http.StatusOK, code, out)
		return out
	}
}
