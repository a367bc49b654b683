package notify_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/notify"
)

// askedApplier records how each command was asked to be applied.
type askedApplier struct {
	idempotent chan bool
	deadline   chan time.Duration
}

func (a *askedApplier) Apply(ctx context.Context, c *muster.Command, out any) error {
	d, _ := ctx.Deadline()
	a.idempotent <- muster.IsIdempotent(ctx)
	a.deadline <- time.Until(d)
	return nil
}

// A batch of webhooks is applied as idempotent, so the cluster asks the
// next leader when the one that held it is lost (each reply is remembered
// by its SID; reports move states forward only), and within Twilio's 15 s
// wait for an answer.
func TestWebhooksAreAppliedAsIdempotent(t *testing.T) {
	a := &askedApplier{idempotent: make(chan bool, 1), deadline: make(chan time.Duration, 1)}
	in := notify.NewInbound(a, notify.InboundConfig{})
	defer in.Close()
	// A webhook's request has no deadline of its own.
	_, err := in.Submit(context.Background(), notify.InboundItem{Kind: notify.InboundReply, SID: "SM1", From: "+8613800000001", Body: "1"})
	require.NoError(t, err)
	assert.True(t, <-a.idempotent, "the batch is marked idempotent")
	d := <-a.deadline
	assert.Positive(t, d)
	assert.Less(t, d, 13*time.Second, "answered well within the provider's 15 s wait")
}
