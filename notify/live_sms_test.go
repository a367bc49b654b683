package notify_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/notify"
	"muster/plans"
)

// A LIVE call-up is refused at once (conflict, naming the leader and the
// account it lacks) while the leader, which sends every call-up's
// messages, has no LIVE SMS account, where it was recorded and its
// messages stayed pending with nobody called. Members without one say so
// in their records: while the leader has one, LIVE requests are taken as
// before; once leadership moves to a member without, every member
// refuses LIVE activations and approvals, previews say why, and drills
// and rejections go on.
func TestLiveCallUpsNeedALeaderWithALiveAccount(t *testing.T) {
	var mu sync.Mutex
	noLive := map[int]bool{}
	opts := clustertest.Options{Setup: setup, Config: func(i int, c *cluster.Config) {
		mu.Lock()
		defer mu.Unlock()
		c.NoLiveSMS = noLive[i]
	}}
	e := newEnvWith(t, 3, 300, opts, testCtx(t))
	ctx := testCtx(t)
	on := func(m *clustertest.Member) *notify.Service {
		s := notify.NewService(m.Node, m.Node, senders)
		s.LeaderWithoutLiveSMS = m.Node.LeaderWithoutLiveSMS
		return s
	}

	// The followers are restarted without a LIVE account; the leader keeps
	// its own.
	leader := e.c.WaitLeader(15 * time.Second)
	followers := e.c.Followers()
	require.Len(t, followers, 2)
	mu.Lock()
	for _, f := range followers {
		noLive[f.Index] = true
	}
	mu.Unlock()
	for _, f := range followers {
		e.c.Stop(f)
		e.c.Restart(f)
	}
	require.Equal(t, leader.Index, e.c.WaitLeader(15*time.Second).Index, "leadership stays where it was through its followers' restarts")
	require.Eventually(t, func() bool {
		without := map[string]bool{}
		for _, s := range leader.Node.Status().Servers {
			without[s.ID] = s.NoLiveSMS
		}
		return len(without) == 3 && !without[leader.Node.ID()] && without[followers[0].Node.ID()] && without[followers[1].Node.ID()]
	}, 15*time.Second, 20*time.Millisecond, "the followers' records say they have no LIVE SMS account")

	live := notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "II", Purpose: "LIVE", Reason: "特大暴雨"}
	p, err := on(followers[0]).Preview(ctx, live)
	require.NoError(t, err)
	assert.Empty(t, p.NoLiveSMS, "the leader has a LIVE account")
	request, err := on(followers[0]).Activate(ctx, "commander", live)
	require.NoError(t, err, "a LIVE request is taken while the leader has a LIVE account")
	require.Equal(t, notify.StatusPendingApproval, request.Status)

	// Leadership moves to a member without a LIVE account.
	e.c.Stop(leader)
	now := e.c.WaitLeader(15 * time.Second)
	members := []*clustertest.Member{now, e.c.Followers()[0]}
	for _, m := range members {
		require.Eventually(t, func() bool { return m.Node.LeaderWithoutLiveSMS() == now.Node.ID() }, 15*time.Second, 20*time.Millisecond,
			"%s knows the leader %s has no LIVE SMS account", m.Node.ID(), now.Node.ID())
	}
	list, err := on(now).Activations(ctx, muster.Default, plans.Page{})
	require.NoError(t, err)
	count := len(list.Items)

	iv := floodIV(district)
	exercise := notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{other}, Level: "IV", Purpose: "EXERCISE", Reason: "通讯演练"}
	for _, m := range members {
		svc := on(m)
		_, err := svc.Activate(ctx, "commander", iv)
		require.Error(t, err, "a LIVE call-up on %s, whose leader has no LIVE account", m.Node.ID())
		assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
		assert.Contains(t, err.Error(), "no LIVE SMS account: node "+now.Node.ID()+", which leads the cluster")
		assert.Contains(t, err.Error(), "--twilio-account-sid")
		assert.Contains(t, err.Error(), "主节点 "+now.Node.ID()+" 未配置真实短信账号")
		_, err = svc.Activate(ctx, "commander", live)
		assert.True(t, muster.IsCode(err, muster.EConflict), "a LIVE request for approval too: %v", err)

		p, err := svc.Preview(ctx, iv)
		require.NoError(t, err, "the preview is shown")
		assert.Contains(t, p.NoLiveSMS, "no LIVE SMS account: node "+now.Node.ID())
		p, err = svc.ApprovalPreview(ctx, request.ID)
		require.NoError(t, err)
		assert.Contains(t, p.NoLiveSMS, "no LIVE SMS account: node "+now.Node.ID(), "the approver's preview says it too")
		_, err = svc.Decide(ctx, "approver", request.ID, notify.DecisionRequest{Approve: true, Recipients: p.Total})
		assert.True(t, muster.IsCode(err, muster.EConflict), "approving starts the call-up: %v", err)
		assert.Contains(t, err.Error(), "no LIVE SMS account")

		p, err = svc.Preview(ctx, exercise)
		require.NoError(t, err)
		assert.Empty(t, p.NoLiveSMS, "a drill goes on its own account")
	}
	list, err = on(now).Activations(ctx, muster.Default, plans.Page{})
	require.NoError(t, err)
	assert.Len(t, list.Items, count, "no LIVE call-up was recorded")
	st, err := on(now).Activation(ctx, muster.Default, request.ID)
	require.NoError(t, err)
	assert.Equal(t, notify.StatusPendingApproval, st.Status, "the refused approval changed nothing")

	drill, err := on(members[1]).Activate(ctx, "trainer", exercise)
	require.NoError(t, err, "an EXERCISE activation is not affected")
	assert.Equal(t, notify.StatusActive, drill.Status)
	rejected, err := on(members[1]).Decide(ctx, "approver", request.ID, notify.DecisionRequest{Reason: "无真实短信账号"})
	require.NoError(t, err, "a LIVE request can still be rejected")
	assert.Equal(t, notify.StatusRejected, rejected.Status)
}

// A preview made on a follower says how the leader, which sends every
// call-up, sends it, where it showed the follower's own account: a
// follower without a LIVE account said "no LIVE SMS account configured on
// this node" of a call-up the leader then sent, and one with an account
// showed it over a call-up the leader, which has none, refused.
func TestAPreviewOnAFollowerSaysHowTheLeaderSends(t *testing.T) {
	var mu sync.Mutex
	noLive := map[int]bool{}
	opts := clustertest.Options{Setup: setup, Config: func(i int, c *cluster.Config) {
		mu.Lock()
		defer mu.Unlock()
		c.NoLiveSMS = noLive[i]
	}}
	e := newEnvWith(t, 3, 300, opts, testCtx(t))
	ctx := testCtx(t)
	without := notify.Senders{Live: notify.SendInfo{Account: "(no LIVE SMS account configured on this node: while it leads, LIVE call-ups are refused)"},
		Exercise: senders.Exercise, NoLive: true}
	on := func(m *clustertest.Member) *notify.Service {
		mu.Lock()
		own := senders
		if noLive[m.Index] {
			own = without
		}
		mu.Unlock()
		s := notify.NewService(m.Node, m.Node, own)
		s.LeaderWithoutLiveSMS = m.Node.LeaderWithoutLiveSMS
		s.Leader = func() (string, bool) {
			id, _ := m.Node.Leader()
			return id, m.Node.IsLeader()
		}
		return s
	}

	leader := e.c.WaitLeader(15 * time.Second)
	followers := e.c.Followers()
	require.Len(t, followers, 2)
	mu.Lock()
	for _, f := range followers {
		noLive[f.Index] = true
	}
	mu.Unlock()
	for _, f := range followers {
		e.c.Stop(f)
		e.c.Restart(f)
	}
	require.Equal(t, leader.Index, e.c.WaitLeader(15*time.Second).Index, "leadership stays where it was through its followers' restarts")

	live := notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{district}, Level: "IV", Purpose: "LIVE", Reason: "积水"}
	p, err := on(leader).Preview(ctx, live)
	require.NoError(t, err)
	assert.Equal(t, senders.Live, p.Send, "the leader shows its own account")

	p, err = on(followers[0]).Preview(ctx, live)
	require.NoError(t, err)
	assert.Empty(t, p.NoLiveSMS, "the leader has a LIVE account")
	assert.NotContains(t, p.Send.Account, "configured on this node", "the follower's lack of an account is not the call-up's")
	assert.Contains(t, p.Send.Account, "the LIVE account of the leader "+leader.Node.ID())
	assert.Equal(t, leader.Node.ID(), p.Send.Leader)
	drill := notify.ActivationRequest{Plan: "flood-control", Regions: []plans.RegionCode{other}, Level: "IV", Purpose: "EXERCISE", Reason: "通讯演练"}
	p, err = on(followers[0]).Preview(ctx, drill)
	require.NoError(t, err)
	assert.Equal(t, senders.Exercise.Account, p.Send.Account)
	assert.Equal(t, leader.Node.ID(), p.Send.Leader, "it says the leader sends it")

	// Leadership moves to a member without a LIVE account; the one with
	// an account, back as a follower, does not show it as the sender.
	e.c.Stop(leader)
	now := e.c.WaitLeader(15 * time.Second)
	e.c.Restart(leader)
	require.Eventually(t, func() bool { return leader.Node.LeaderWithoutLiveSMS() == now.Node.ID() }, 15*time.Second, 20*time.Millisecond,
		"%s knows the leader %s has no LIVE SMS account", leader.Node.ID(), now.Node.ID())
	p, err = on(leader).Preview(ctx, live)
	require.NoError(t, err)
	assert.Contains(t, p.NoLiveSMS, "no LIVE SMS account: node "+now.Node.ID())
	assert.Equal(t, "(none: the leader "+now.Node.ID()+", which sends every call-up, has no LIVE SMS account)", p.Send.Account)
	assert.Empty(t, p.Send.Sender)
	assert.Zero(t, p.EstimatedSend, "no time to send is estimated from an account that does not send")
}
