package notify

import (
	"encoding/json"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// bWaiting indexes the activations stored as waiting for approval
// (StatusPendingApproval): activation ID → nothing. The console asks for
// the waiting requests every few seconds on every page, and the metrics
// count them at every scrape; without the index each read decodes every
// activation ever made.
var bWaiting = []byte("activations_waiting")

// rulesWaitingIndex is the behaviour from which the state keeps bWaiting:
// the first notify command applied under it builds the index from the
// activations (every replica at the same entry), and putActivation keeps
// it from then on. Reads use it once it exists and scan before.
const rulesWaitingIndex = 13

// indexWaiting wraps a notify command's apply function: under
// rulesWaitingIndex it builds the index of waiting requests first, if the
// state has none yet.
func indexWaiting(fn muster.ApplyFunc) muster.ApplyFunc {
	return func(tx *bolt.Tx, c *muster.Command) (any, error) {
		if c.RulesAtLeast(rulesWaitingIndex) && tx.Bucket(bWaiting) == nil {
			if err := buildWaitingIndex(tx); err != nil {
				return nil, err
			}
		}
		return fn(tx, c)
	}
}

// buildWaitingIndex creates bWaiting with every activation stored as
// waiting for approval.
func buildWaitingIndex(tx *bolt.Tx) error {
	wb, err := tx.CreateBucket(bWaiting)
	if err != nil {
		return err
	}
	ab := tx.Bucket(bActivations)
	if ab == nil {
		return nil
	}
	return ab.ForEach(func(k, v []byte) error {
		var a struct {
			Status Status `json:"status"`
		}
		if err := json.Unmarshal(v, &a); err != nil {
			return err
		}
		if a.Status != StatusPendingApproval {
			return nil
		}
		return wb.Put(k, nil)
	})
}

// noteWaiting keeps a's entry in bWaiting, once the index exists.
func noteWaiting(tx *bolt.Tx, a Activation) error {
	wb := tx.Bucket(bWaiting)
	if wb == nil {
		return nil
	}
	if a.Status == StatusPendingApproval {
		return wb.Put([]byte(a.ID), nil)
	}
	return wb.Delete([]byte(a.ID))
}

// onlyWaiting reports whether every status asked for is one a stored
// waiting request shows as (waiting, or past its window).
func onlyWaiting(statuses []Status) bool {
	if len(statuses) == 0 {
		return false
	}
	for _, s := range statuses {
		if s != StatusPendingApproval && s != StatusApprovalExpired {
			return false
		}
	}
	return true
}

// listActivations lists the activations in ID order after page.After, at
// most limit; with statuses, only those shown (at now) in one of them. When
// only waiting statuses are asked for and the index exists, it reads the
// index instead of every activation.
func listActivations(tx *bolt.Tx, page plans.Page, limit int, now time.Time, statuses []Status) (plans.List[Activation], error) {
	out := plans.List[Activation]{Items: []Activation{}}
	b := tx.Bucket(bActivations)
	if b == nil {
		return out, nil
	}
	keys := b
	if wb := tx.Bucket(bWaiting); wb != nil && onlyWaiting(statuses) {
		keys = wb
	}
	cur := keys.Cursor()
	for k, v := cur.Seek([]byte(page.After)); k != nil; k, v = cur.Next() {
		if string(k) == page.After {
			continue
		}
		if len(out.Items) == limit {
			out.Next = string(out.Items[limit-1].ID)
			break
		}
		if keys != b {
			if v = b.Get(k); v == nil {
				continue
			}
		}
		if len(statuses) > 0 {
			// The status and the approval window decide: only the
			// activations kept are decoded whole.
			var st Activation
			if err := json.Unmarshal(v, &struct {
				Status           *Status    `json:"status"`
				ApprovalDeadline *time.Time `json:"approval_deadline"`
			}{&st.Status, &st.ApprovalDeadline}); err != nil {
				return out, err
			}
			if !slices.Contains(statuses, st.shown(now).Status) {
				continue
			}
		}
		var a Activation
		if err := json.Unmarshal(v, &a); err != nil {
			return out, err
		}
		withRestored(tx, &a)
		out.Items = append(out.Items, a.shown(now))
	}
	return out, nil
}

// WaitingRequests lists the LIVE requests waiting for approval at now
// (their window not passed), oldest first, from the index of waiting
// requests once it exists. At most limit are listed.
func WaitingRequests(tx *bolt.Tx, now time.Time, limit int) ([]Activation, error) {
	l, err := listActivations(tx, plans.Page{}, limit, now, []Status{StatusPendingApproval})
	return l.Items, err
}

// countWaiting counts the requests waiting for approval at now and those
// past their window, from the index once it exists.
func countWaiting(tx *bolt.Tx, now time.Time) (awaiting, expired int, err error) {
	b := tx.Bucket(bActivations)
	if b == nil {
		return 0, 0, nil
	}
	count := func(v []byte) error {
		var a struct {
			Status           Status    `json:"status"`
			ApprovalDeadline time.Time `json:"approval_deadline"`
		}
		if err := json.Unmarshal(v, &a); err != nil {
			return err
		}
		switch {
		case a.Status != StatusPendingApproval:
		case now.Before(a.ApprovalDeadline):
			awaiting++
		default:
			expired++
		}
		return nil
	}
	if wb := tx.Bucket(bWaiting); wb != nil {
		err = wb.ForEach(func(k, _ []byte) error {
			if v := b.Get(k); v != nil {
				return count(v)
			}
			return nil
		})
		return awaiting, expired, err
	}
	err = b.ForEach(func(_, v []byte) error { return count(v) })
	return awaiting, expired, err
}
