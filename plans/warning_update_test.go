package plans_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/plans"
)

// qxRef names an alert of the meteorological service upstreamRain imports.
func qxRef(id string) plans.UpstreamRef {
	return plans.UpstreamRef{Sender: "qx.990100.example.cn", Identifier: id}
}

// importAlert imports the rainstorm alert id over the district at level,
// of purpose, as an update of the alerts replaces, and requires a new
// warning.
func (e *warnEnv) importAlert(t *testing.T, id string, purpose plans.WarningPurpose, level plans.WarningLevel, replaces ...string) plans.Warning {
	t.Helper()
	in := upstreamRain(e, id, wDistrict)
	in.Purpose, in.Level = purpose, level
	for _, r := range replaces {
		in.Replaces = append(in.Replaces, qxRef(r))
	}
	res, err := e.svc.Import(testCtx(t), "feed", in)
	require.NoError(t, err)
	require.True(t, res.Created)
	return res.Warning
}

func (e *warnEnv) warning(t *testing.T, id plans.WarningID) plans.Warning {
	t.Helper()
	w, err := e.svc.Warning(testCtx(t), muster.Default, id)
	require.NoError(t, err)
	return w
}

func (e *warnEnv) unanswered(t *testing.T) []plans.WarningID {
	t.Helper()
	l, err := e.svc.Warnings(testCtx(t), muster.Default, plans.WarningFilter{Unanswered: true}, plans.Page{})
	require.NoError(t, err)
	var ids []plans.WarningID
	for _, w := range l.Items {
		ids = append(ids, w.ID)
	}
	return ids
}

// A met service updates its orange or red warning every 20–30 minutes
// during a rainstorm. An update of a warning still awaiting a response
// keeps the earlier deadline, so the warning is marked NO RESPONSE in time
// (Zhengzhou 2021: red warnings issued again and again, no response), and
// a prompt already raised stays raised, also through an upgrade to red.
// An activation still holding the regions answers the update as it
// answered the warning it replaces; one retracted answers neither.
func TestWarningUpdateKeepsResponseTime(t *testing.T) {
	live, orange, red, yellow := plans.WarningLive, plans.WarningOrange, plans.WarningRed, plans.WarningYellow
	e := newWarnEnv(t) // response time 10 minutes
	due := e.clk.Now().Add(10 * time.Minute)

	first := e.importAlert(t, "RS-1", live, orange)
	assert.Equal(t, due, first.RespondBy)

	e.clk.Add(7 * time.Minute)
	second := e.importAlert(t, "RS-2", live, orange, "RS-1")
	assert.Equal(t, due, second.RespondBy, "an update of a warning awaiting a response keeps its deadline")
	assert.Equal(t, plans.WarningLifted, e.warning(t, first.ID).Status)

	e.clk.Add(4 * time.Minute)
	got := e.warning(t, second.ID)
	assert.True(t, got.Prompt, "11 minutes after the first warning, 4 after its update")
	assert.Equal(t, due, got.PromptSince)
	assert.Equal(t, []plans.WarningID{second.ID}, e.unanswered(t))

	// An upgrade to red does not clear the prompt.
	e.clk.Add(time.Minute)
	third := e.importAlert(t, "RS-3", live, red, "RS-2")
	assert.Equal(t, due, third.RespondBy)
	assert.True(t, third.Prompt)
	assert.Equal(t, []plans.WarningID{third.ID}, e.unanswered(t))

	// An activation over a street of the district answers it, and the
	// next update too while it holds the street; that update, replacing an
	// answered warning, has a deadline of its own.
	e.hold(t, testHold{Region: wStreet, Level: plans.LevelI, Act: "A000001"})
	assert.Empty(t, e.unanswered(t))
	e.clk.Add(time.Minute)
	fourth := e.importAlert(t, "RS-4", live, red, "RS-3")
	require.Len(t, fourth.Responses, 1)
	assert.Equal(t, plans.ActivationID("A000001"), fourth.Responses[0].Activation)
	assert.Equal(t, e.clk.Now().Add(10*time.Minute), fourth.RespondBy)
	assert.False(t, fourth.Prompt)

	// The activation is retracted (sent in error): the warning awaits a
	// response again, and its update keeps that deadline.
	e.hold(t, testHold{Region: wStreet, Act: "A000001", Retract: true})
	e.clk.Add(time.Minute)
	fifth := e.importAlert(t, "RS-5", live, red, "RS-4")
	assert.Empty(t, fifth.Responses)
	assert.Equal(t, fourth.RespondBy, fifth.RespondBy)

	// A downgrade to yellow needs no response; an upgrade from yellow
	// starts a clock of its own.
	e.clk.Add(time.Minute)
	sixth := e.importAlert(t, "RS-6", live, yellow, "RS-5")
	assert.True(t, sixth.RespondBy.IsZero())
	assert.Empty(t, e.unanswered(t))
	e.clk.Add(time.Minute)
	seventh := e.importAlert(t, "RS-7", live, orange, "RS-6")
	assert.Equal(t, e.clk.Now().Add(10*time.Minute), seventh.RespondBy)

	// A deadline already passed carries over too: the update is marked
	// NO RESPONSE from the start.
	e.clk.Add(20 * time.Minute)
	eighth := e.importAlert(t, "RS-8", live, orange, "RS-7")
	assert.Equal(t, seventh.RespondBy, eighth.RespondBy)
	assert.True(t, eighth.Prompt)

	t.Run("rules 6", func(t *testing.T) {
		e := newWarnEnvUnder(t, 6)
		first := e.importAlert(t, "RS-1", live, orange)
		e.clk.Add(7 * time.Minute)
		second := e.importAlert(t, "RS-2", live, orange, "RS-1")
		assert.Equal(t, e.clk.Now().Add(10*time.Minute), second.RespondBy, "under rules 6 an update restarted the clock")
		assert.NotEqual(t, first.RespondBy, second.RespondBy)
	})
}

// An upstream alert updates or cancels only alerts of its own purpose: a
// CAP Test or Exercise message naming a LIVE (Actual) warning must not lift
// it, whichever path the command takes into the state machine.
func TestWarningUpstreamKeepsToItsPurpose(t *testing.T) {
	live, test, exercise := plans.WarningLive, plans.WarningTest, plans.WarningExercise
	red, blue := plans.WarningRed, plans.WarningBlue
	e := newWarnEnv(t)
	ctx := testCtx(t)
	real := e.importAlert(t, "UP-20", live, red)
	stillInForce := func() {
		t.Helper()
		assert.Equal(t, plans.WarningActive, e.warning(t, real.ID).Status)
		assert.Equal(t, plans.ModeStandby, e.mode(t, wDistrict).Mode)
	}

	for _, purpose := range []plans.WarningPurpose{test, exercise} {
		in := upstreamRain(e, "UP-21-"+string(purpose), wDistrict)
		in.Purpose, in.Level, in.Replaces = purpose, blue, []plans.UpstreamRef{qxRef("UP-20")}
		_, err := e.svc.Import(ctx, "feed", in)
		assert.True(t, muster.IsCode(err, muster.EConflict), "%s update: %v", purpose, err)
		stillInForce()

		_, err = e.svc.CancelUpstream(ctx, "feed", purpose, []plans.UpstreamRef{qxRef("UP-20")}, "测试")
		assert.True(t, muster.IsCode(err, muster.EConflict), "%s cancel: %v", purpose, err)
		stillInForce()
	}
	list, err := e.svc.Warnings(ctx, muster.Default, plans.WarningFilter{}, plans.Page{})
	require.NoError(t, err)
	assert.Len(t, list.Items, 1, "the refused update created no warning")

	// The state machine refuses it whatever proposes it.
	payload := `{"warning":"` + string(real.ID) + `","reason":"测试","purpose":"TEST"}`
	err = e.node.Apply(ctx, &muster.Command{Type: plans.CmdWarningLift, Actor: "feed", Payload: []byte(payload)}, nil)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	payload = `{"regions":["990101"],"level":"blue","event":"暴雨","headline":"测试","source":"test","purpose":"EXERCISE",` +
		`"upstream":{"sender":"qx.990100.example.cn","identifier":"UP-22"},"replaces":[{"sender":"qx.990100.example.cn","identifier":"UP-20"}]}`
	err = e.node.Apply(ctx, &muster.Command{Type: plans.CmdWarningIssue, Actor: "feed", Payload: []byte(payload)}, nil)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	stillInForce()

	// A cancellation naming a test warning and the LIVE one lifts neither.
	drill := e.importAlert(t, "T-1", test, blue)
	_, err = e.svc.CancelUpstream(ctx, "feed", test, []plans.UpstreamRef{qxRef("T-1"), qxRef("UP-20")}, "测试")
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.Equal(t, plans.WarningActive, e.warning(t, drill.ID).Status)
	stillInForce()

	// Alerts of one purpose update and cancel each other as before; the
	// refused test alert may come again without the reference.
	drill2 := e.importAlert(t, "T-2", test, blue, "T-1")
	assert.Equal(t, plans.WarningLifted, e.warning(t, drill.ID).Status)
	lifted, err := e.svc.CancelUpstream(ctx, "feed", test, []plans.UpstreamRef{qxRef("T-2")}, "测试结束")
	require.NoError(t, err)
	require.Len(t, lifted, 1)
	assert.Equal(t, drill2.ID, lifted[0].ID)
	assert.Equal(t, plans.WarningLifted, lifted[0].Status)
	e.importAlert(t, "UP-21-TEST", test, blue)
	stillInForce()
	lifted, err = e.svc.CancelUpstream(ctx, "feed", live, []plans.UpstreamRef{qxRef("UP-20")}, "雨势减弱")
	require.NoError(t, err)
	require.Len(t, lifted, 1)
	assert.Equal(t, plans.WarningLifted, lifted[0].Status)
	again, err := e.svc.CancelUpstream(ctx, "feed", live, []plans.UpstreamRef{qxRef("UP-20")}, "雨势减弱")
	require.NoError(t, err, "a cancellation received twice answers the same")
	assert.Equal(t, lifted, again)
	_, err = e.svc.CancelUpstream(ctx, "feed", "DRAFT", []plans.UpstreamRef{qxRef("UP-20")}, "x")
	assert.True(t, muster.IsCode(err, muster.EInvalid), "%v", err)

	// A person lifts a warning of any purpose.
	other := e.importAlert(t, "UP-30", live, red)
	e.lift(t, other.ID)

	t.Run("rules 6", func(t *testing.T) {
		e := newWarnEnvUnder(t, 6)
		ctx := testCtx(t)
		real := e.importAlert(t, "UP-20", live, red)
		e.importAlert(t, "UP-21", test, blue, "UP-20")
		assert.Equal(t, plans.WarningLifted, e.warning(t, real.ID).Status, "under rules 6 a test update lifted a LIVE warning")
		other := e.importAlert(t, "UP-30", live, red)
		payload := `{"warning":"` + string(other.ID) + `","reason":"测试","purpose":"TEST"}`
		require.NoError(t, e.node.Apply(ctx, &muster.Command{Type: plans.CmdWarningLift, Actor: "feed", Payload: []byte(payload)}, nil))
		assert.Equal(t, plans.WarningLifted, e.warning(t, other.ID).Status)
	})
}
