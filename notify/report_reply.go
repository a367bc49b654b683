package notify

import (
	"encoding/binary"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// rulesReportsTakeNoReply is the behaviour (muster.Rules) from which a 叫应
// report says it needs no reply (reportNeedsNoReply), and the first SMS
// reply from a person after a report was sent to them is not an answer to
// their own call-up: it is kept as a note on the call-up it would have
// answered, and, as a note, answered with how to answer the call-up (1 or
// 2). A grid leader called up by the same activation that reports their
// grid's silence to them cannot tell the two apart by SMS, and neither can
// muster: before, "收到" to the report was filed as their own 到, so a
// leader who never answered their call-up was counted present. The window
// closes with that first reply; a call-up that started after the report
// is answered as before.
const rulesReportsTakeNoReply = 13

// reportNeedsNoReply ends each SMS of a 叫应 report under
// rulesReportsTakeNoReply.
const reportNeedsNoReply = "本短信无需回复。"

// reportNeedsNoReplyEN is reportNeedsNoReply in an English report
// (rulesEnglishReports).
const reportNeedsNoReplyEN = "No reply needed."

// bEscReported holds, in an activation's data, the people a 叫应 report of
// it was sent to (the provider took it) whose replies to it have not all
// come: person → reportWindow (rulesReportsTakeNoReply).
var bEscReported = []byte("esc_reported")

// reportBurst is how long after the first reply taken for a report more
// replies are taken for it too, as many as the report had parts: a report
// of several SMS gets a reply to each in a row (people, and phones that
// answer every message, do), and only the first would otherwise be caught.
const reportBurst = 30 * time.Second

// reportWindow is what the state keeps of the report SMS sent to a person
// since their last reply (the parts of a report, or reports of several
// steps): when the last went out, how many, and, once a reply was taken
// for them, until when more are and how many were.
type reportWindow struct {
	Sent       time.Time
	Parts      uint32
	BurstUntil time.Time // zero until the first reply
	Taken      uint32
}

func (w reportWindow) encode() []byte {
	b := make([]byte, 0, 24)
	b = binary.BigEndian.AppendUint64(b, uint64(w.Sent.UnixNano()))
	b = binary.BigEndian.AppendUint32(b, w.Parts)
	var burst uint64
	if !w.BurstUntil.IsZero() {
		burst = uint64(w.BurstUntil.UnixNano())
	}
	b = binary.BigEndian.AppendUint64(b, burst)
	return binary.BigEndian.AppendUint32(b, w.Taken)
}

// decodeReportWindow reads a reportWindow; ok is false for a value that
// is none.
func decodeReportWindow(v []byte) (w reportWindow, ok bool) {
	if len(v) != 24 {
		return w, false
	}
	w.Sent = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
	w.Parts = binary.BigEndian.Uint32(v[8:])
	if burst := binary.BigEndian.Uint64(v[12:]); burst != 0 {
		w.BurstUntil = time.Unix(0, int64(burst))
	}
	w.Taken = binary.BigEndian.Uint32(v[20:])
	return w, true
}

// noteReportSent remembers that a part of the report it of at went out at
// t: the superior's next SMS replies are taken for the report (one, then
// up to one a part within reportBurst). A part sent once their replies
// began starts the count again.
func noteReportSent(at *actTx, it EscalationItem, t time.Time) error {
	if it.Action != plans.EscalateSuperior {
		return nil
	}
	b, err := at.ad.CreateBucketIfNotExists(bEscReported)
	if err != nil {
		return err
	}
	w, ok := decodeReportWindow(b.Get([]byte(it.Person)))
	if !ok || !w.BurstUntil.IsZero() {
		w = reportWindow{}
	}
	w.Sent, w.Parts = t, w.Parts+1
	return b.Put([]byte(it.Person), w.encode())
}

// repliesToReport reports whether an SMS reply from person at now, which
// would answer their call-up at, is taken for a 叫应 report instead: an
// open activation of the reply's account (exercise) sent them a report at
// or after at started, and this is the first reply since, or one within
// reportBurst of that first and no more than the report's parts. A reply
// past the burst closes the window: the report is forgotten. Open
// activations are read in key order.
func repliesToReport(tx *bolt.Tx, acts actCache, person plans.PersonID, exercise bool, at *actTx, now time.Time) (bool, error) {
	since := at.a.Start()
	toReport := false
	for _, id := range openActivations(tx) {
		ad := activationData(tx, id)
		if ad == nil {
			continue
		}
		b := ad.Bucket(bEscReported)
		if b == nil {
			continue
		}
		w, ok := decodeReportWindow(b.Get([]byte(person)))
		if !ok {
			continue
		}
		o, err := acts.get(tx, id)
		if err != nil {
			return false, err
		}
		if o.a.Purpose.Drill() != exercise {
			continue // the report went out on the other account
		}
		taken := false
		switch {
		case w.BurstUntil.IsZero():
			taken = !w.Sent.Before(since)
			w.BurstUntil, w.Taken = now.Add(reportBurst), 1
		case !now.After(w.BurstUntil) && w.Taken < w.Parts:
			taken = !w.Sent.Before(since)
			w.Taken++
		default:
			w.Taken = w.Parts // past the burst: closed
		}
		toReport = toReport || taken
		if !taken || w.Taken >= w.Parts {
			err = b.Delete([]byte(person))
		} else {
			err = b.Put([]byte(person), w.encode())
		}
		if err != nil {
			return false, err
		}
	}
	return toReport, nil
}

// readReply reads the SMS reply it from person, which would answer their
// call-up at, as c's rules say: parsed (parseReply), and, from
// rulesReportsTakeNoReply, a note of its whole text when it is taken for
// a 叫应 report (repliesToReport; toReport is then set).
func readReply(tx *bolt.Tx, acts actCache, c *muster.Command, at *actTx, person plans.PersonID, it InboundItem) (reply Reply, toReport bool, err error) {
	reply = parseReply(it.Body, replyRulesAt(max(c.Rules, 1)))
	if !c.RulesAtLeast(rulesReportsTakeNoReply) {
		return reply, false, nil
	}
	toReport, err = repliesToReport(tx, acts, person, it.Exercise, at, c.Time)
	if err != nil || !toReport {
		return reply, false, err
	}
	return Reply{Kind: ReplyNote, Reason: strings.TrimSpace(it.Body)}, true, nil
}
