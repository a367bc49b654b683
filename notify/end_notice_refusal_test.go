package notify_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/notify"
)

// The end notice of a LIVE call-up stood down is refused a stand-down
// while it still has SMS to send, and a retraction, in words about an
// end: its call-up was stood down (it ended), not withdrawn.
func TestAnEndNoticeIsRefusedInWordsAboutAnEnd(t *testing.T) {
	r := newCallRig(t, rigOptions{nodes: 1, people: 30, perSecond: 10})
	live := r.activate(t, "live")
	r.waitSettled(t, live.ID, 30*time.Second)
	r.standDown(t, live.ID)
	end := r.status(t, live.ID).EndNotice
	require.NotEmpty(t, end)
	n := r.c.WaitLeader(15 * time.Second).Node
	svc := notify.NewService(n, n, senders)

	_, err := svc.StandDown(testCtx(t), "commander", end, "清理")
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.Contains(t, err.Error(), "activation "+string(end)+" is the end notice of "+string(live.ID)+" and still has ")
	assert.Contains(t, err.Error(), "they would never be told that "+string(live.ID)+" has ended")
	assert.NotContains(t, err.Error(), "withdrawn")

	_, err = svc.Retract(testCtx(t), "commander", end, notify.RetractRequest{Message: "前一条信息为误发，请忽略。"})
	require.Error(t, err)
	assert.True(t, muster.IsCode(err, muster.EConflict), "%v", err)
	assert.Contains(t, err.Error(), "activation "+string(end)+" is the end notice of "+string(live.ID)+", which it tells its people has ended")
	assert.NotContains(t, err.Error(), "withdrawn")
	r.waitSettled(t, end, 30*time.Second)
}
