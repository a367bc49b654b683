package notify

import (
	"slices"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// rulesPhoneFallback is the behaviour (muster.Rules) from which a call-up
// SMS that the provider says for good its number cannot take
// (NumberRefusedCode) goes on to the person's next phone in the roster
// that the call-up has not tried, instead of leaving them failed: the
// recipient is pending again, due at once, with that number as their
// phone, and the number that failed is kept in their attempt record
// (Attempt.FailedPhones). Each number is tried at most once per call-up.
// When none is left they fail as before; if the last number does not
// exist (NoSuchNumberCode) and one they left does, the recipient's phone
// goes back to the first such, for the voice escalation to call. The
// carrier's retries of a temporary failure count from the number's first
// attempt (Attempt.onNumber). Under older rules the first failure is
// final.
const rulesPhoneFallback = 11

// NumberRefusedCode reports whether a Twilio error code, from a create
// answer or a delivery report, says for good that the number cannot take
// an SMS: 21211 (not a valid number), 21614 (not a mobile), 21610 (the
// owner sent STOP), 30005 (unknown destination) and 30006 (a landline or
// an unreachable carrier). Another number of the same person may take it;
// the other permanent codes (credentials, the sender, the message) would
// fail there too.
func NumberRefusedCode(code int) bool {
	switch code {
	case 21211, 21614, 21610, 30005, 30006:
		return true
	}
	return false
}

// codeNotAMobile is Twilio's 21614: the To number is not a mobile.
const codeNotAMobile = 21614

// NoSuchNumberCode reports whether a Twilio error code says the number
// does not exist (21211 invalid, 30005 unknown destination): a call to it
// fails as the SMS did. A landline (30006, 21614) or a number whose owner
// sent STOP (21610) still takes a call.
func NoSuchNumberCode(code int) bool { return code == 21211 || code == 30005 }

// PhoneFailure is one number a call-up SMS failed at for good, with the
// provider's error code and the attempt that failed.
type PhoneFailure struct {
	Phone   string `json:"phone"`
	Code    int    `json:"code"`
	Attempt int    `json:"attempt"`
}

// failedAt reports whether the call-up's SMS to phone failed for good and
// went on to another number.
func (att *Attempt) failedAt(phone string) bool {
	return slices.ContainsFunc(att.FailedPhones, func(f PhoneFailure) bool { return f.Phone == phone })
}

// leftAfter reports whether the call-up went on from the number attempt n
// went to: a number failed for good at attempt n or later (numbers change
// only then).
func (att *Attempt) leftAfter(n int) bool {
	return slices.ContainsFunc(att.FailedPhones, func(f PhoneFailure) bool { return f.Attempt >= n })
}

// rulesLeftNumberReports: from these rules a report of the progress of an
// attempt to a number the call-up went on from (a "sent" that comes after
// that attempt's "undelivered": reports arrive in any order) changes
// nothing. Before, it moved the recipient back to sent and dropped the
// send queued to the next number; the overdue-report sweep then asked
// for the old message's status and failed the next number with the old
// number's error, unsent.
const rulesLeftNumberReports = 13

// onNumber is how many of attempts 1..n went to the number the recipient
// has now: those after the last number the call-up left. The retries of a
// temporary failure are counted by it, so a number the call-up went on to
// has as many as the first had.
func (att *Attempt) onNumber(n int) int {
	if k := len(att.FailedPhones); k > 0 {
		return n - att.FailedPhones[k-1].Attempt
	}
	return n
}

// fallBack is called, under c's rules, when the current attempt's SMS to
// r at phone failed for good with code; r is in sending or sent. If the
// rules have rulesPhoneFallback, the code is one the number is to blame
// for, the call-up is active and the person has a mobile in the roster
// the call-up has not tried, r goes on to the first such: phone is added
// to att.FailedPhones, the recipient record takes the new number, and r
// is pending, its retry due at c's time. moved says so; otherwise the
// caller fails r, and if r went on before, att records the last failure
// too (and the record the number a voice call can reach, see
// rulesPhoneFallback). Only the roster in tx is read.
func (at *actTx) fallBack(tx *bolt.Tx, c *muster.Command, r Recipient, att *Attempt, phone string, code int) (moved bool, err error) {
	if !c.RulesAtLeast(rulesPhoneFallback) || !NumberRefusedCode(code) || at.a.Status != StatusActive || phone == "" {
		return false, nil
	}
	p, ok, err := plans.GetPerson(tx, r.Person)
	if err != nil || !ok {
		return false, err
	}
	failed := att.FailedPhones
	if !att.failedAt(phone) {
		failed = append(slices.Clip(failed), PhoneFailure{Phone: phone, Code: code, Attempt: att.N})
	}
	// The next number in the roster's order, whatever its kind: which
	// numbers are mobiles is the numbering data's say, which may differ
	// between releases, so the state machine does not ask it. The
	// dispatcher sends nothing to a landline and reports it refused
	// (21614), which moves the call-up on again.
	var next string
	for _, ph := range p.Phones {
		if ph != phone && !slices.ContainsFunc(failed, func(f PhoneFailure) bool { return f.Phone == ph }) {
			next = ph
			break
		}
	}
	if next == "" {
		if len(att.FailedPhones) == 0 {
			return false, nil // their only number to try: failed as before
		}
		att.FailedPhones = failed
		if NoSuchNumberCode(code) {
			for _, f := range failed {
				if !NoSuchNumberCode(f.Code) && slices.Contains(p.Phones, f.Phone) {
					return false, at.readdress(r.Person, f.Phone) // the number a voice call reaches
				}
			}
		}
		return false, nil
	}
	att.FailedPhones = failed
	if err := at.readdress(r.Person, next); err != nil {
		return false, err
	}
	at.count("phone_fallback", 1)
	return true, at.schedule(r, att, c.Time)
}
