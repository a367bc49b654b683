package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster/plans"
)

// The escalator reads an activation's queue a batch at a time from where
// the last batch ended, so a step of many items is read once, not from
// the start for every batch; an item queued again behind the cursor (a
// retry) is found when the read wraps around, in the same pass.
func TestEscalationWorkGoesOnFromTheLastBatch(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "queue.db"), 0o600, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	person := func(i int) plans.PersonID { return plans.PersonID(fmt.Sprintf("P%05d", i)) }
	// put sets the items' states and the queued and sending counters.
	put := func(states map[int]string) {
		require.NoError(t, db.Update(func(tx *bolt.Tx) error {
			ad, err := tx.CreateBucketIfNotExists([]byte("ad"))
			require.NoError(t, err)
			q, err := ad.CreateBucketIfNotExists(bEscQueue)
			require.NoError(t, err)
			for i, st := range states {
				require.NoError(t, putEscItem(q, EscalationItem{Step: 0, Action: plans.EscalateSMS, Channel: ChannelSMS, Person: person(i), State: st}))
			}
			cb, err := ad.CreateBucketIfNotExists(bCounters)
			require.NoError(t, err)
			counts := map[string]int64{}
			require.NoError(t, q.ForEach(func(_, v []byte) error {
				var it EscalationItem
				require.NoError(t, json.Unmarshal(v, &it))
				counts[it.State]++
				return nil
			}))
			for name, st := range map[string]string{escQueuedCounter: EscQueued, escSendingCounter: EscSending} {
				_ = cb.Delete([]byte(dispatchCounter + name))
				if counts[st] > 0 {
					require.NoError(t, cb.Put([]byte(dispatchCounter+name), appendCount(nil, counts[st])))
				}
			}
			return nil
		}))
	}
	// read takes a batch of up to limit from after, marking the items taken
	// sent, and returns their people and where the next batch starts.
	read := func(orphans bool, limit int, after []byte) (taken []plans.PersonID, next []byte) {
		require.NoError(t, db.View(func(tx *bolt.Tx) error {
			refs, items, n, err := escalationWork(tx.Bucket([]byte("ad")), "A000001", orphans, limit, after, time.Time{})
			require.NoError(t, err)
			require.Len(t, items, len(refs))
			for _, r := range refs {
				taken = append(taken, r.Person)
			}
			next = n
			return nil
		}))
		sent := map[int]string{}
		for _, p := range taken {
			var i int
			_, _ = fmt.Sscanf(string(p), "P%05d", &i)
			sent[i] = EscSent
		}
		put(sent)
		return taken, next
	}

	all := map[int]string{}
	for i := range 10 {
		all[i] = EscQueued
	}
	put(all)
	taken, next := read(false, 4, nil)
	assert.Equal(t, []plans.PersonID{person(0), person(1), person(2), person(3)}, taken)
	require.NotNil(t, next, "a full batch: the next goes on from it")
	taken, next = read(false, 4, next)
	assert.Equal(t, []plans.PersonID{person(4), person(5), person(6), person(7)}, taken)

	// P1 is queued again (a retry) behind the cursor: found after P8 and P9.
	put(map[int]string{1: EscQueued})
	taken, next = read(false, 4, next)
	assert.Equal(t, []plans.PersonID{person(8), person(9), person(1)}, taken)
	assert.Nil(t, next, "went all the way round")
	taken, next = read(false, 4, next)
	assert.Empty(t, taken, "nothing queued: the counters say so")
	assert.Nil(t, next)

	// Left in sending by a dead leader: the orphans read takes them, round
	// from the cursor.
	put(map[int]string{2: EscSending, 6: EscSending, 9: EscQueued})
	taken, next = read(true, 2, []byte(escItemKey(0, person(5), 0)))
	assert.Equal(t, []plans.PersonID{person(6), person(9)}, taken)
	taken, next = read(true, 2, next)
	assert.Equal(t, []plans.PersonID{person(2)}, taken)
	assert.Nil(t, next)
}

// fixedEnder answers every EndCall with end.
type fixedEnder struct{ end CallEnd }

func (f fixedEnder) EndCall(context.Context, string, CallStatus) (CallEnd, error) { return f.end, nil }

// A call of a retracted call-up that the escalator canceled counts as never
// rung only when Twilio had not dialled it: its status reports saying no
// more than queued may lag behind a call that is ringing.
func TestACanceledCallWithAStartTimeRang(t *testing.T) {
	e := &Escalator{cfg: EscalatorConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	const p = plans.PersonID("P00000001")
	w := &escWork{a: Activation{ID: "A000002", Retracts: "A000001"}, live: map[plans.PersonID][]liveCall{p: {{SID: "CA1", Status: CallQueued}}}}
	got := e.endCalls(t.Context(), w, fixedEnder{CallEnd{Status: CallCanceled}}, p)
	assert.Equal(t, callsEnded{over: true, unrung: []string{"CA1"}}, got, "canceled undialled: it never rang")
	got = e.endCalls(t.Context(), w, fixedEnder{CallEnd{Status: CallCanceled, Dialled: true}}, p)
	assert.Equal(t, callsEnded{over: true}, got, "dialled: it may have rung, whatever was reported")
}

// A call of a retracted call-up that the escalator's cancel finds ended
// busy or failed is waited for: once its status is reported, the state
// takes the correction call off. Before, it counted as one that rang.
func TestACallFoundEndedBusyWaitsForItsReport(t *testing.T) {
	e := &Escalator{cfg: EscalatorConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	const p = plans.PersonID("P00000001")
	w := &escWork{a: Activation{ID: "A000002", Retracts: "A000001"}, live: map[plans.PersonID][]liveCall{p: {{SID: "CA1", Status: CallRinging}}}}
	for _, st := range []CallStatus{CallBusy, CallFailed} {
		got := e.endCalls(t.Context(), w, fixedEnder{CallEnd{Status: st, Dialled: true}}, p)
		assert.Equal(t, callsEnded{}, got, "%s: not over until reported", st)
	}
	got := e.endCalls(t.Context(), w, fixedEnder{CallEnd{Status: CallNoAnswer, Dialled: true}}, p)
	assert.Equal(t, callsEnded{over: true}, got, "no-answer: it rang")
}
