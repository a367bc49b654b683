package notify

import (
	"time"

	"muster/plans"
)

// answerBy is when recipient r of a, whose call-up SMS reached them at
// reached (zero: no report said so), was asked to answer by: the level's
// ack deadline after the call-up started, or after their SMS reached them
// when that was later (a backup the chain called up, a message sent late).
func answerBy(a Activation, l *plans.Level, reached time.Time) time.Time {
	from := a.Start()
	if reached.After(from) {
		from = reached
	}
	return from.Add(time.Duration(l.AckDeadline))
}

// timeLeft is how long is left at now to answer by by, as a message says
// it ({{.AckDeadline}}): to the nearest minute, and a minute at least (a
// reminder after the deadline asks for an answer at once).
func timeLeft(by, now time.Time) plans.Duration {
	return plans.Duration(max(by.Sub(now).Round(time.Minute), time.Minute))
}

// reminderLead is what a reminder says after the sender, in lang: that the
// person has not answered, and by when to (in zone, with the date when it
// is not now's day), or to answer at once when that has passed.
// Chinese: 【提醒】您尚未回复，请于09:30前回复。
// English: Reminder: you have not replied. Reply by 09:30.
func reminderLead(lang plans.Language, by, now time.Time, zone *time.Location) string {
	if lang == plans.LangEN {
		if !by.After(now) {
			return "Reminder: you have not replied. Please reply now. "
		}
		return "Reminder: you have not replied. Reply by " + clockSaidEN(by, now, zone) + ". "
	}
	if !by.After(now) {
		return "【提醒】您尚未回复，请尽快回复。"
	}
	return "【提醒】您尚未回复，请于" + clockSaid(by, now, zone) + "前回复。"
}

// reminderMark is the shortest word a reminder can say it is one with, in
// lang: what it says when the whole lead would take the SMS past the
// segments the plan's check allows.
func reminderMark(lang plans.Language) string {
	if lang == plans.LangEN {
		return "Reminder: "
	}
	return "【提醒】"
}

// clockSaidEN is clockSaid for an English reader: 09:30, or Jul 21 00:05.
func clockSaidEN(t, since time.Time, zone *time.Location) string {
	t, since = t.In(zone), since.In(zone)
	if t.YearDay() != since.YearDay() || t.Year() != since.Year() {
		return t.Format("Jan 2 15:04")
	}
	return t.Format("15:04")
}

// RenderReminder renders the escalation chain's SMS step for recipient r
// of a, sent at now, whose call-up SMS reached them at reached (zero: not
// reported): the call-up SMS again, with r's answer link, but recognisable
// as a reminder and true when it is read. After the sender (or in front,
// when the template does not start with it) it says, in r's language, that
// r has not answered and the clock time to answer by in zone (answerBy);
// {{.AckDeadline}} is the time left then (timeLeft), not the whole
// deadline again. A drill's text starts with plans.ExerciseMark as every
// drill message does. When the lead would take the SMS past
// plans.MaxSMSSegments it says only that it is a reminder, and when even
// that would, the text is the call-up's as the plan's check counted it.
func RenderReminder(a Activation, l *plans.Level, r Recipient, link string, reached, now time.Time, zone *time.Location) (string, error) {
	if a.Retracts != "" {
		return RenderSMS(a, l, r, link)
	}
	t, err := plans.CompileMessage(l.SMSTemplate(r.Language))
	if err != nil {
		return "", err
	}
	by := answerBy(a, l, reached)
	text, err := renderCallUp(a, l, t, r, link, timeLeft(by, now))
	if err != nil {
		return "", err
	}
	if s, ok := withLead(a, r.Language, text, reminderLead(r.Language, by, now, zone), reminderMark(r.Language), ""); ok {
		return markPurpose(a, r.Language, s), nil
	}
	return RenderSMS(a, l, r, link)
}

// reminded reports whether a recipient in state st is one a voice
// escalation call reminds: the call-up SMS went out to them (sent,
// delivered, or escalated as silent) and they have not answered. One whose
// SMS failed or is still being retried hears the call-up for the first
// time.
func reminded(st State) bool {
	return st == StateSent || st == StateDelivered || st == StateEscalated
}

// reminderVoiceLead is what a voice escalation call says first, in lang,
// to someone the call-up SMS reached and who has not answered it: that the
// call is about that call-up, not another one.
// Chinese: 提醒：您尚未回复召集通知。
// English: Reminder: you have not answered the call-up.
func reminderVoiceLead(lang plans.Language) string {
	if lang == plans.LangEN {
		return "Reminder: you have not answered the call-up. "
	}
	return "提醒：您尚未回复召集通知。"
}
