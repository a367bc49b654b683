package notify

import (
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// callEnds are the ends of a voice call muster_voice_calls_ended_total
// counts, in the words muster status gives a step's calls (callOutcome):
// answered by a person, by an answering machine, or not at all.
var callEnds = [...]string{"answered", "machine", "no_answer", "busy", "failed", "canceled"}

// voiceCounts counts what the voice webhooks taken on one node recorded:
// the calls whose end was reported, by how they ended, and the answers
// given by key. Each is counted where it was recorded, once: a report or
// key that changed nothing (a provider's retry, an earlier attempt's call)
// is not counted again.
type voiceCounts struct {
	ended           [len(callEnds)]atomic.Int64
	accept, decline atomic.Int64
}

// count counts it, a webhook Submit applied with result res.
func (v *voiceCounts) count(it InboundItem, res InboundResult) {
	if res.Outcome != InboundApplied {
		return
	}
	switch it.Kind {
	case InboundCall:
		if !CallStatus(it.Status).Final() {
			return
		}
		call := it.Status
		if MachineAnswered(it.AnsweredBy) {
			call += " (machine)"
		}
		end := strings.ReplaceAll(callOutcome(call), "-", "_")
		for i, e := range callEnds {
			if e == end {
				v.ended[i].Add(1)
			}
		}
	case InboundDigits:
		switch res.Reply {
		case ReplyAccept:
			v.accept.Add(1)
		case ReplyDecline:
			v.decline.Add(1)
		}
	}
}

// VoiceCollector returns a Prometheus collector of the voice webhooks this
// node took since the process started: muster_voice_calls_ended_total
// {outcome} counts the calls whose end it recorded, by how they ended
// (answered, machine, no_answer, busy, failed, canceled), and
// muster_voice_keys_total{answer} the answers it recorded from a key
// pressed on a call-up's call (accept: 1, decline: 2; a key after a first
// answer is not one). Webhooks go to any node: sum them over the cluster.
// The calls placed are the escalator's (Escalator.Collector).
func (in *Inbound) VoiceCollector() prometheus.Collector {
	return &voiceCollector{in: in,
		ended: prometheus.NewDesc("muster_voice_calls_ended_total",
			"Voice calls whose end this node's webhooks recorded, by outcome: answered (by a person), machine (an answering machine took it), no_answer, busy, failed (never rang), canceled (ended before it was answered).",
			[]string{"outcome"}, nil),
		keys: prometheus.NewDesc("muster_voice_keys_total",
			"Answers this node recorded from a key pressed on a voice call-up, by answer: accept (1), decline (2).", []string{"answer"}, nil),
	}
}

type voiceCollector struct {
	in          *Inbound
	ended, keys *prometheus.Desc
}

func (c *voiceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.ended
	ch <- c.keys
}

func (c *voiceCollector) Collect(ch chan<- prometheus.Metric) {
	v := &c.in.voice
	for i, e := range callEnds {
		ch <- prometheus.MustNewConstMetric(c.ended, prometheus.CounterValue, float64(v.ended[i].Load()), e)
	}
	ch <- prometheus.MustNewConstMetric(c.keys, prometheus.CounterValue, float64(v.accept.Load()), "accept")
	ch <- prometheus.MustNewConstMetric(c.keys, prometheus.CounterValue, float64(v.decline.Load()), "decline")
}

// Collector returns a Prometheus collector of the voice calls this node's
// escalator placed while it led, since the process started:
// muster_voice_calls_placed_total counts the calls the provider accepted
// to place, muster_voice_calls_not_placed_total the attempts it refused or
// failed (a temporary failure is tried again, and counted again). How the
// placed calls went is counted where their webhooks are taken
// (Inbound.VoiceCollector).
func (e *Escalator) Collector() prometheus.Collector {
	return &escalatorCollector{e: e,
		placed:    prometheus.NewDesc("muster_voice_calls_placed_total", "Voice calls (escalation and correction calls) the provider accepted to place from this node.", nil, nil),
		notPlaced: prometheus.NewDesc("muster_voice_calls_not_placed_total", "Attempts to place a voice call the provider refused or failed (a temporary failure is tried again).", nil, nil),
	}
}

type escalatorCollector struct {
	e                 *Escalator
	placed, notPlaced *prometheus.Desc
}

func (c *escalatorCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.placed
	ch <- c.notPlaced
}

func (c *escalatorCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.e.Stats()
	ch <- prometheus.MustNewConstMetric(c.placed, prometheus.CounterValue, float64(st.Calls))
	ch <- prometheus.MustNewConstMetric(c.notPlaced, prometheus.CounterValue, float64(st.CallsNotPlaced))
}
