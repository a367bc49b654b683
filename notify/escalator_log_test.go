package notify_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/notify"
	"muster/notify/twiliosim"
)

// levelHandler keeps the level and "unlogged" attribute of each record
// whose message contains match.
type levelHandler struct {
	match string
	mu    sync.Mutex
	recs  []levelRecord
}

type levelRecord struct {
	level    slog.Level
	unlogged int64
}

func (h *levelHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelHandler) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, h.match) {
		return nil
	}
	rec := levelRecord{level: r.Level, unlogged: -1}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "unlogged" {
			rec.unlogged = a.Value.Int64()
		}
		return true
	})
	h.mu.Lock()
	h.recs = append(h.recs, rec)
	h.mu.Unlock()
	return nil
}
func (h *levelHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *levelHandler) WithGroup(string) slog.Handler      { return h }

// count returns the records at level and the last of them.
func (h *levelHandler) count(level slog.Level) (int, levelRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n, last := 0, levelRecord{}
	for _, r := range h.recs {
		if r.level == level {
			n, last = n+1, r
		}
	}
	return n, last
}

// Escalations queued with no provider to go out on (a node restored
// without the account, as docs/operations.md has it) are met on every
// pass of the escalator: it warns once a minute per activation, with how
// many passes it held back, not on every pass (each second); the passes
// between are logged at debug level.
func TestNoProviderWarningIsSaidOnceAMinute(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	logs := &levelHandler{match: "no provider for some queued escalations"}
	r := newCallRig(t, rigOptions{nodes: 1, people: 60, clock: clock, sim: twiliosim.Config{TimeScale: 0.002},
		escalator: func(c *notify.EscalatorConfig) {
			c.ExerciseVoice, c.Logger = nil, slog.New(logs)
		}})
	_, a, silent := voiceDrill(t, r, "EXERCISE")
	require.Positive(t, silent)
	clock.Add(5 * time.Minute)
	require.Eventually(t, func() bool {
		w, _ := logs.count(slog.LevelWarn)
		d, _ := logs.count(slog.LevelDebug)
		return w+d >= 4
	}, 10*time.Second, 10*time.Millisecond, "the step fired, and the escalator passes over its waiting calls again and again")
	warns, first := logs.count(slog.LevelWarn)
	assert.Equal(t, 1, warns, "one warning within the minute, however many passes")
	assert.Zero(t, first.unlogged)

	clock.Add(time.Minute)
	require.Eventually(t, func() bool { n, _ := logs.count(slog.LevelWarn); return n == 2 }, 10*time.Second, 10*time.Millisecond, "a minute on: said again")
	_, second := logs.count(slog.LevelWarn)
	debug, _ := logs.count(slog.LevelDebug)
	assert.GreaterOrEqual(t, second.unlogged, int64(3), "with the passes held back")
	assert.LessOrEqual(t, second.unlogged, int64(debug))
	assert.Equal(t, map[string]int{notify.EscQueued: silent}, r.escalation(t, a.ID)[0].Items, "they stay queued")
}
