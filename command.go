package muster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Command is the replicated envelope: every change to muster's state is one
// Command in the raft log. The leader stamps ID and Time before proposing, so
// that applying it is deterministic on every node.
type Command struct {
	Type      string    // dispatch key, e.g. "person.upsert"
	ID        string    // unique, stamped by the leader
	Time      time.Time // stamped by the leader; the only clock apply code may read
	Actor     string    // who asked for it (token name), for the audit trail
	Ignorable bool      // nodes that do not know Type skip it instead of failing (rolling upgrades)
	// Rules is the state-machine behaviour the command is applied under,
	// stamped by the leader: the newest that every member's muster
	// implements (see Rules). Apply code that changes what an existing
	// command does keeps the old behaviour for lower Rules, so nodes of
	// two versions apply every entry alike during a rolling upgrade, and a
	// log replays as it first applied. 0 (entries from before Rules
	// existed) reads as 1.
	Rules   int
	Payload []byte // owned by the package that handles Type, JSON by convention

	// Index is the raft log index the command was applied at. It is set by the
	// FSM, never encoded, and deterministic like everything else in apply.
	Index uint64
}

// ApplyFunc applies one command inside the FSM's bbolt transaction. It must be
// deterministic: no clock, randomness, map iteration order or network. A
// returned error rejects the command and none of its writes survive; the value
// is returned to the proposer.
type ApplyFunc func(tx *bolt.Tx, c *Command) (any, error)

// commandVersion is the first byte of every encoded command.
const commandVersion byte = 1

// Rules is the newest state-machine behaviour this muster implements.
//
//	1: everything before Rules existed.
//	2: escalation reaches recipients the SMS could not (failed), and
//	   recipients sent after the chain began get clocks of their own.
//	3: at the chain's first step, recipients reached too recently for it
//	   (more than a tenth of its after early) get clocks of their own;
//	   a voice call's progress counts for the item's current attempt only.
//	4: only an activation that started can be retracted; a stand-down or
//	   retraction ends the escalation clocks; a correction also goes to
//	   the superiors the escalation reported to.
//	5: a correction also calls those a voice escalation call may have
//	   reached; an EXERCISE or TEST warning puts no region in standby; a
//	   LIVE call-up stands down the drills over its regions, and no drill
//	   starts where one is; a reply from a number that left the roster
//	   (plans' former phones) answers the open call-up that went to it;
//	   an activation request's idempotency key creates one activation.
//	6: a key pressed on a voice call is applied once per call (a retried
//	   gather is a duplicate); the people a correction takes on only for
//	   its call get no correction SMS; a retracted activation answers no
//	   warning; a roster import leaves the optional fields it has no
//	   column for as they are on the people it updates.
//	7: people called up for real are not drilled: a drill leaves out the
//	   recipients of active LIVE call-ups, and a LIVE call-up takes its
//	   people off the drills running elsewhere; a person a correction took
//	   on only for its call leaves it when that call is dropped; a drill
//	   run by hand is refused while a run of its schedule is open; an
//	   upstream update keeps the response deadline of a warning awaiting
//	   one, and an upstream alert updates or cancels only warnings of its
//	   own purpose; an escalation item sent again after a failover is
//	   counted (escalation_resent).
//	8: a reply from a number its owner's open call-up did not go to
//	   answers the open call-up of the person who had the number before,
//	   if that call-up went to it (a number handed on while a call-up
//	   runs); a roster import resolves a backup named by a phone as the
//	   roster will be after it (a phone the file takes from its holder
//	   names no one); a drill's escalation step passes over its people
//	   that an active LIVE call-up calls up for real; a reply that only
//	   starts like a decline (不管…, "no problem") is a note; an SMS
//	   answer also answers the person's other open call-ups of its
//	   purpose that wait for one; a rejected inbound item is not
//	   remembered as seen; the backup step calls the backup the roster
//	   names when it fires.
//	9: escalation takes a recipient whose SMS the carrier could not
//	   deliver to the handset (switched off, out of coverage), and which
//	   is being sent again, as one the SMS could not reach: the call,
//	   backup and superior steps are for them while the retries go on; a
//	   call-up SMS sent to another number than its recipient's record
//	   (the person's phone was corrected while the call-up ran; the
//	   dispatcher sends to the roster's number) puts that number in the
//	   record, and an escalation message or call sent to another number
//	   puts it in its item: a reply from the new number answers the
//	   call-up, one from the old does not; a token records its holder,
//	   and tokens of one holder are one person for an approval; a
//	   correction with SMS not yet sent or calls not yet over is stood
//	   down only when forced, and ends by itself once every SMS has its
//	   outcome and every call is over (correction.end); a call of the
//	   retracted call-up canceled before it was reported dialled takes
//	   its correction call off (correction.uncall); a retraction records
//	   how many had the call-up's SMS in flight; an upstream drill's
//	   warning is answered by a drill over its regions and not by a LIVE
//	   call-up, and a drill answers no LIVE warning; a warning keeps only
//	   the larger of two regions one within the other; a drill's due
//	   time is judged by when its run was to start (one that comes while
//	   the schedule's run before is open is missed, naming it, also when
//	   the fire is applied), and a run a length apart that ends up to 2
//	   minutes after the next start is stood down in the entry that
//	   starts the next.
//	10: a call of the retracted call-up that ended busy or failed after
//	   the retraction (it never rang its person with the call-up) takes
//	   its correction call off as one canceled before it was dialled does
//	   (correction.uncall), unless another call of the call-up to them may
//	   have reached them or rang unanswered or was canceled after the
//	   retraction; a correction stood down with force records it (its
//	   calls answered after read nothing); a reply written as the
//	   call-up asks is an answer: 1 or 2 run into Chinese text (1到岗,
//	   2在外地), 1 with more after it, an accept word with a separator
//	   before more (收到，谢谢), keycap digits (1️⃣, ①), and 不能到岗
//	   declines with the whole reply as its reason; a roster import
//	   (import.commit) may hand a phone from one person to another when
//	   a row of the same file, matched to the holder by external ID,
//	   gives them other phones (a duty phone handed on, two numbers
//	   swapped); a 叫应 report names every silent person of the grid with
//	   the number to call, in as many SMS as that takes (each at most 10
//	   segments, numbered 1/N), to every 网格长 of the grid (up to three,
//	   by ID); an SMS reply from a person whose latest call-up on that
//	   account was stood down or retracted within 24 hours (of the 32
//	   newest activations) is counted on it and answered that it ended,
//	   at most 3 times; a dropped result for an active call-up's send (a
//	   leader stopping gracefully releases the claims it did not send)
//	   puts the recipient back with the attempt they had, due at once.
//	11: a call-up SMS that the provider refuses for good because of its
//	   number (21211 invalid, 21614 not a mobile, 21610 STOP, 30005
//	   unknown destination, 30006 landline or unreachable carrier), at
//	   the send or in a delivery report, goes on to the person's next
//	   phone in the roster's order that the call-up has not tried: the
//	   recipient is pending again, due at once, with that number in its
//	   record, and the attempt record lists the numbers that failed with
//	   their codes; each number is tried once, and a send's result does
//	   not put back a number its report made the call-up leave; the
//	   carrier's retries of a temporary failure count from the number's
//	   first attempt. With no number left the recipient fails; if the
//	   last number does not exist (21211, 30005) the record takes the
//	   first number left that does, which the voice escalation calls; a
//	   person's update that names the version it was made from
//	   (If-Match) is refused when the person changed since. (Which
//	   numbers are landlines is left to the leader: its dispatcher sends
//	   a landline nothing and reports it refused, 21614.) A token of the
//	   feed role (it may only post CAP alerts) can be made. Regions keep
//	   an English name (a region file without that column leaves them as
//	   they are), plan versions their roles' name_en, and an activation
//	   its regions' English names and its roles' name_en, which English
//	   speakers' messages say. The state remembers every upstream CAP
//	   alert a later Update or Cancel referenced: one that arrives after
//	   an Update that replaced it creates no warning, one that arrives
//	   after its Cancel is created lifted. A backup or 叫应 step marks a
//	   silent person escalated only when it reached someone for them (a
//	   backup called up, or a report to the grid's 网格长, the command
//	   slot, or the nearest 网格长/值班领导 up the region tree); one it
//	   reached no one for stays in their state and is counted in
//	   escalation_unreached.
//	12: a token may carry its holder's mobile (token.create's phone, in
//	   E.164; before, the phone was left out, as older musters decode
//	   the command without it). A LIVE request that waits for approval
//	   lists, when it is created, the people to text that it does: each
//	   holder of an approver or commander token with a phone, the
//	   requester's holder aside (approvers_notified), or says that none
//	   has one (no_approver_phone); the leader claims those texts
//	   (approval.notice: attempt ID and its time; a new leader claims
//	   again the texts claimed with no outcome recorded, at most three
//	   times each), skipping people who decided meanwhile and every text
//	   of a request no longer waiting, and records their outcomes
//	   (approval.noticed). Upstream CAP: a Test or Exercise message no
//	   longer overrides what an Actual one recorded of an alert that has
//	   not arrived (only an Actual message overrides a drill's record);
//	   no record is written for an alert that has arrived, an alert's
//	   record is dropped when it arrives (a warning created lifted keeps
//	   its Cancel, superseded_by) and every record 30 days after the
//	   message that wrote it; a warning imported from an upstream alert
//	   keeps the alert's ignored geocodes. A LIVE call-up's stand-down
//	   leaves each region it held in recovery (恢复) once nothing else
//	   holds it, until a commander ends it (mode.recovery_end);
//	   emergency > standby > recovery > normal; a retraction releases
//	   without recovery, and takes back the recovery of a call-up
//	   stood down before it was retracted.
//	   Every command applied leaves an entry in the audit chain
//	   (cluster.AuditEntry: its number, raft index, ID, type, actor,
//	   time, rules and the SHA-256 of its payload, hashing the entry
//	   before it; a rejected command leaves none). And from rules 12
//	   nodes sign node-to-node requests without the cluster key, and
//	   refuse a request that carries the key instead (not a change of
//	   the state machine: the members' rules tell a node that every
//	   member signs).
//	13: nodes encrypt node-to-node traffic (not a change of the state
//	   machine: the members' rules tell a node that every member can):
//	   raft goes on from its handshake into TLS 1.3 under a key derived
//	   from the cluster key, and node-to-node requests go the same way to
//	   the leader's raft port (cluster/sealed.go).
//	   A warning an upstream CAP Update lifted names the Update's warning
//	   (replaced_by), and a Cancel that names an alert an Update replaced
//	   lifts the warning in force at the end of that chain too; a
//	   warning a Cancel lifted keeps it (cancelled_by), and an Update that
//	   comes after a Cancel of an alert it updates is created lifted.
//	   The first notify command builds an index of the activations
//	   stored as waiting for approval (activations_waiting), which every
//	   write of an activation keeps from then on.
//	   The audit chain can be cut (audit.cut, ignorable): the entries
//	   from the chain's start through an entry whose number and hash an
//	   export holds, refused unless the chain's own entry there has that
//	   hash and the export starts no later than the chain does; at most
//	   10,000 entries a command (or the command's max), the rest by the
//	   next; the number and hash of the last entry cut, with the cut's
//	   time, actor and reason, are kept as the chain's checkpoint
//	   (audit_checkpoint), and each cut leaves its own audit entry. Under
//	   earlier rules it is refused.
//	   A LIVE call-up's stand-down over a region already holding a
//	   recovery keeps the older one under the new (the mode record's
//	   earlier_recoveries), and an emergency over the region keeps them
//	   too; retracting the call-up whose recovery the region shows takes
//	   it back to the one before (its time, actor and reason), not to
//	   normal, and retracting one kept under a newer drops it (audited
//	   mode.release). mode.recovery_end ends a region's own recovery (and
//	   those under it) whenever the region is not in emergency: in
//	   standby it stays in standby, and is normal when its warnings are
//	   lifted; in recovery through a region above it (whose recovery is
//	   newer) it stays in that one. Before 13 the region's own record had
//	   to be in recovery.
//	   A 叫应 report SMS ends 本短信无需回复。; when the provider took a
//	   report (escalation.result sent) the reporting activation remembers
//	   its superior (esc_reported), and that person's first SMS reply
//	   afterwards, on the same account, to a call-up already running when
//	   the report went out, is kept as a note on that call-up (counted in
//	   its replies, answered with the help text) instead of being taken as
//	   their answer, and so are their replies within 30 s of it, up to as
//	   many as report SMS went to them since their last reply (a report
//	   in parts); a reply after that closes the window.
//	   A 叫应 report to a superior whose language is English is written
//	   in English.
//	   A delivery report of an attempt to a number the call-up went on
//	   from (a failure for good at that attempt or later) changes
//	   nothing; before, its late "sent" moved the recipient back to sent
//	   and unscheduled the send to the next number.
//	   An escalation.fire carrying a limit looks at about that many
//	   people at most, keeps where it stopped (esc_firing) and answers
//	   it; the next command goes on from there until the step is done. A
//	   superior step's chunks find the superiors of the silent people
//	   they take (each grid's 网格长 read once a step) and keep them by
//	   superior (esc_report); then the reports are written a few
//	   superiors at a time, one entry each, leaving out those who
//	   answered since: the same reports as the step in one entry.
//	   Under earlier rules the limit is not looked at.
//	   A drill.fire whose due time comes while another drill's run is
//	   open over the same regions (or above or below) records it missed
//	   naming that run; one whose length is over or ends within Grace of
//	   the due time is stood down in the same entry.
//	   A reply of 明白, of an accept word said twice or more (收到收到,
//	   好的好的), of a thumbs-up alone, of 已到岗, 已到, 马上到, 在路上, on
//	   my way, 可以 or 没问题 accepts; N/A is a note.
//	   An accept followed by a but (不过, 但是, 但, 可是, 只是, but,
//	   however) accepts only when what follows it is about coming late
//	   (1，不过要晚半小时; 1 but 20 min late); any other (1，不过我生病了;
//	   收到，但是人在北京) is a note, as a refusal is: whether the sender
//	   comes cannot be told. 不过来 and 不过去 (cannot come over) refuse.
//	   Before 13 a 不过 made a note by its 不, and any other but accepted
//	   whatever followed it unless it refused.
//	   A reply to a drill a LIVE call-up stood down, from someone that
//	   call-up calls up while it is active, ends stopped_for_live.
//	   The result of a reply on the exercise account that is counted on
//	   a drill (open or ended) says whether an active LIVE call-up calls
//	   up its sender and waits for their answer (live_waiting), so that
//	   they are pointed to it; nothing is recorded on the LIVE call-up.
//	   Before 13 it did not say.
//	   A backup taken is recorded (cluster.backup.taken, ignorable: it
//	   changes no state, its audit entry names the token); under earlier
//	   rules it is refused.
//	   The reasons the state machine writes when it lifts a warning (an
//	   upstream Update replaced it, it was cancelled upstream before it
//	   arrived, it expired) are Chinese with the English in brackets
//	   (已过期 (expired)); under earlier rules English only. The warning
//	   of an upstream Update names the warnings in force it lifted
//	   (replaces), as they name it (replaced_by).
//	   Each activation holding a region in emergency keeps its time,
//	   actor and reason, and the region says who switched it and why as
//	   the hold that sets its level does (the most severe, of those the
//	   first); before 13 the first activation's stayed for as long as
//	   the region was in emergency.
//	   An escalation item that failed for now (escalation.result retry)
//	   is queued with the retry time the leader stamps in the outcome
//	   (next_try: the dispatcher's backoff; a claim clears it) and the
//	   escalator takes it no earlier; the leader fails it once its
//	   attempts are spent (3, or those of an outage when the provider
//	   account was failing: 12 by default). Before 13 it was queued again
//	   at once and failed at its third attempt.
//	   An SMS reply to the text of a LIVE request still waiting for
//	   approval is an inbound approval (outcome approval, audited, the
//	   request named, counted on the text's notice: replies): every reply
//	   from the number when no roster person has it or the roster person
//	   who has it has no open call-up, and a roster person's first after
//	   the text when their open call-up began before it. It approves
//	   nothing; before 13 the first was an unknown number's (a roster
//	   person's without an open call-up: no call-up's) and the second
//	   answered the call-up.
//	   Once a LIVE request waits for approval no more (approved and
//	   started, rejected, withdrawn, its window passed), the leader's
//	   approval.notice lists on it whom to tell what became of it
//	   (decision_notices: its requester unless they ended the wait, and
//	   the approvers whose text of the wait was sent or left in flight,
//	   but the one who decided) and claims those texts; approval.noticed
//	   (decision) records them. A waiting request stays in the notifier's
//	   index until they are recorded; before 13 nobody was told, and it
//	   left the index once the texts of the wait were recorded.
//	   A drill schedule can be changed in place (drill.update, action
//	   change): the schedule the command carries replaces its plan,
//	   regions, level, type, title, due times, length and the rest,
//	   checked as a new schedule is, keeping its ID, its pause, its runs
//	   and missed count and when and by whom it was made; its next
//	   occurrence stays unless its due times (cron, one-off time, time
//	   zone, no-notice window) change, when it is the one the proposer
//	   stamped and a postponement is dropped. A change carrying another
//	   updated_at than the schedule's (it changed since it was read) is
//	   refused. Under earlier rules the change is refused; pause, resume
//	   and delete are as before.
//	   A claim (dispatch.claim) in a state restored from a backup
//	   records on the attempt the number of restores the state has been
//	   through (the attempt record's restored; the claim's result gives
//	   it, and the attempt's ID carries it: A000002.P00000386.1.r1); a
//	   delivery report matches the recipient's current attempt only when
//	   its ID names the same restore. A report naming another restore
//	   than the recipient's attempt, or a later attempt number, is of an
//	   attempt the cluster a backup was taken of made when the call-up
//	   was open in that backup and its restore is later than the one the
//	   report names: then it moves the recipient to delivered when it
//	   says delivered, whatever its number, and changes nothing
//	   otherwise; else it is unknown. Before 13 claims recorded no
//	   restore and reports matched by number alone.
//	   recipient.cancel takes one recipient off an active call-up (not a
//	   correction), with the actor and a reason: one that has not
//	   answered (pending, sending, sent, delivered, failed, escalated)
//	   moves to cancelled (state code 9, counted as state/cancelled), its
//	   queued retry is dropped, its escalation clock ends and the SMS and
//	   calls queued to it are skipped; who, when and why are kept
//	   (cancelled, under the activation's data). A cancelled recipient is
//	   never claimed, escalated, named as silent nor sent a correction, a
//	   send result or delivery report for it changes nothing, and an
//	   answer from it is kept as a note. Under earlier rules it is
//	   refused.
//	   An SMS answer answers the sender's other open call-ups only when
//	   they are of the same plan, and a reply goes to the most recent
//	   call-up that reached them and still waits for their answer (the
//	   command's result names it and those still waiting); before 13 one
//	   answer answered every open call-up of the purpose, of any plan.
//	   A decline (an SMS, a key, the answer page) from a recipient who
//	   had accepted is still a note, and the first answer stands; the
//	   first such reply of each person is kept (declined_after_ack, under
//	   the activation's data) and counted (declined_after_ack in the
//	   activation's counters). Before 13 nothing was kept but the note.
//	   The escalation's backup step records, for each backup it calls
//	   up, whom they stand in for (stand_ins, under the activation's
//	   data: person → the silent person's ID, name and grid, with the
//	   grid's names as the regions have them; a backup of a backup
//	   stands in for the same person), and their call-up SMS and voice
//	   call say it. The recipient records are unchanged. Before 13
//	   nothing was recorded and the backup got the ordinary call-up.
//	   An answer 到 from a person a backup stands in for queues, for each
//	   such backup the call-up reached (sent, delivered, acked,
//	   escalated), an SMS item (step 65534, its text stamped in) telling
//	   them that person reported, and ends their escalation (clock
//	   removed, queued SMS and calls skipped); before 13 nothing was
//	   queued.
//	   A cluster started over a restored backup records the restore in
//	   its audit chain: its first leader proposes cluster.restored, whose
//	   payload is the restore as the state has it (its number, the
//	   backup's raft index and time, when it was restored) and which its
//	   entry shows (payload, covered by payload_sha256). It applies once
//	   per restore (restore_audited, in the meta bucket): proposed again,
//	   by another leader or after a restart, it is refused and leaves no
//	   entry. Under earlier rules it is refused.
//	   A restore (the state a restored cluster starts from, not a
//	   command) numbers the activations made after it apart: restore n
//	   moves the activations' sequence to n×1,000,000 plus the old
//	   number (A000007, then A1000008), so that the IDs the cluster the
//	   backup was taken of gave its activations after the backup, which
//	   its attempt IDs and answer links carry, are not the restored
//	   cluster's. Every node starts from that state, so the commands
//	   after it apply alike under any rules.
//	   A drill stood down, by activation.standdown or by a LIVE call-up
//	   starting over its regions, opens the end of the drill: an
//	   activation of the drill's purpose (ends_drill; retracts names the
//	   drill, which records it as end_notice) whose recipients are the
//	   drill's recipients it may have reached, pending, but the
//	   recipients of the active LIVE call-ups and of the one starting;
//	   when there are none, nothing is opened. It goes out as a
//	   correction does, and a drill recipient whose send turns out not
//	   to have gone out is taken off it. A drill run's close opens none.
//	   Before 13 nothing was opened.
//	   A LIVE call-up stood down (activation.standdown) opens its end
//	   likewise (ends_call_up; retracts names it, which records it as
//	   end_notice), on the LIVE account, to everyone it may have reached;
//	   a stand-down with no_notice (another call-up replaces it) opens
//	   none, of a LIVE call-up or a drill. A retraction of a call-up
//	   whose end is still active stands that end down (its correction
//	   tells the people). Before 13 a LIVE stand-down opened nothing and
//	   no_notice was not read.
//	   An escalation claim in a state restored from a backup records the
//	   restore's number on the item's attempt (restored, in the item),
//	   and its ID carries it as the call-up's attempts do
//	   (A000001.P00000042.e0-1.r1); a call's progress counts for the
//	   item only when reported for that restore's attempt: the cluster
//	   the backup was taken of may have called with the same attempt
//	   number after it. Before 13 neither.
//	   An SMS decline without a reason is answered with a request for
//	   it (the inbound result's ask_reason), and the sender's next SMS
//	   reply to that call-up that says something (a note, or a decline
//	   with a reason) is kept as the decline's reason in their attempt
//	   record (reason_kept), counted among their replies, not as a note.
//	   Before 13 such a reply was a note.
//	   A token made (token.create, token.bootstrap) records the lineage
//	   of the token that made it (makers: that token, its maker, and so
//	   on back to the actor that made the first admin token), read from
//	   the tokens as they are, so that revoking one of them later hides
//	   nothing. An approval (activation.decide approving) is refused
//	   unless its decider is a person independent of the requester and
//	   of every earlier approver: neither holds the other's token, nor a
//	   token up the other's lineage (which made it, or made its maker),
//	   the lineage of a token made before being followed by name through
//	   the tokens as they are and refused when a link of it is gone; the
//	   decision keeps the approver's lineage (lineage). Before 13 tokens
//	   recorded no makers and an approval was refused only for the
//	   requester's holder and anyone who had decided already. Where
//	   tokens exist, an approver that holds none (revoked after the API
//	   checked it) is refused.
//	   People are told apart by their holders' names folded
//	   (access.HolderKey: trimmed, each run of white space one space,
//	   full-width forms narrow, case folded), so "Zhang San", "zhang  san"
//	   and "ＺＨＡＮＧ　ＳＡＮ" are one person to the approval rule and to
//	   the texts of what became of a request, as 张三 and "张 三" are
//	   (no space between two Chinese characters;
//	   middle dots, hyphens, periods and underscores count as spaces,
//	   so 王·五 is 王五 and Zhang-San is Zhang San), and a decision of the
//	   requester's or a second one of one person is refused on the folded
//	   names too; before 13 holders were compared as written.
//	   A LIVE activation reaching the whole city — naming a region
//	   without a parent, or every region under it (each district of the
//	   city, or a district by all its streets) — at a level one person
//	   starts alone (approvals 1) that gives no expected count needs its
//	   scope confirmed (confirm_scope naming the regions requested), as
//	   one calling more than its level's expected count does; before 13
//	   it started unconfirmed.
//	   A request that waits for approval keeps the lineage of the token
//	   it was requested with (requester_lineage): approvals are weighed
//	   against it, its holder is the requester, and once that token is
//	   revoked no approval is taken, whatever token has its name since;
//	   before 13 the requester's token was looked up by its name.
//	   A text about a request for approval (approval.notice: that it
//	   waits, or what became of it) claimed in a state restored from a
//	   backup has an attempt ID that carries the restore's number as the
//	   call-up's attempts do (A000001.approver-1.1.r1,
//	   A000001.decision-1.1.r1). Before 13 neither did.
//	   A roster import's commit (import.commit) refuses a row without an
//	   external ID that matches a person by phone and gives them another
//	   name (conflict, the renames in its details), unless the import
//	   was begun allowing renames (import.begin's allow_renames). It
//	   compares external IDs width-folded (full-width ASCII as ASCII,
//	   the blanks around them trimmed: Ｐ０００００02 is P0000002), within
//	   the file and against the roster, where an ID is looked up folded,
//	   then as given, then among the stored IDs not in folded form, and
//	   stores them folded on the people it creates or updates. Before 13
//	   the person was renamed, and IDs were compared and stored as
//	   given. Under any rules the result lists such renames (renamed).
//	   A drill schedule made or changed (drill.schedule, drill.update
//	   change) with a length shorter than 15 minutes (MinHeld, the time
//	   a drill must run to be held) is refused; before 13 any positive
//	   length was taken (such schedules still load and run). A run by
//	   hand (drill.fire, manual) is refused while another drill's run is
//	   open over the same regions, or a region above or below them,
//	   naming that run and its activation; before 13 it started, calling
//	   the same people up twice. A due time (drill.fire) is postponed
//	   while a region among, above or below its regions is in recovery
//	   after a live emergency (or goes back to it when a warning is
//	   lifted), as while it is in emergency, until the region is back to
//	   normal; before 13 it started once the emergency stood down.
//	   A decision on a request (activation.decide) records the holder
//	   of the deciding token as the state has it (Decision.Holder) when
//	   another than the token's name, so a token named as a revoked one
//	   was is not taken for that one's holder; before 13 only the
//	   token's name was kept.
//	   An SMS reply of an accept word followed by a plain inability and
//	   no but (1，我生病了; 1 在住院; 1 I'm sick) is a note, answered
//	   with the help text and asked again by the escalation; before 13
//	   it was an accept unless it held a refusal word, and a person who
//	   said they could not come was counted as reported.
//	   A token revoked (token.revoke) is kept as it was, with when and
//	   by whom (access_revoked, by name), and token.create refuses
//	   (conflict) a name a token revoked so had, naming that token, when
//	   and by whom it was revoked and a free name, unless it reuses the
//	   name on purpose (reuse_name): the audit trail names tokens by
//	   name. Before 13 a revoked token was deleted and its name free.
//	   The people texted that a request waits for approval
//	   (approvers_notified, listed by activation.create and checked again
//	   by approval.notice) are told apart by their holders' names folded
//	   (access.HolderKey) on a request made under 13 (one keeping
//	   requester_lineage): a token of the requester's under another way
//	   of writing their name is not texted, and one person's tokens
//	   under two ways of writing it get one text, at the phone of the
//	   token made last. Before 13 holders were compared as written.
//	   A region switched to emergency by an approval names the official
//	   who asked for the activation as its switcher (by) and the
//	   approver apart (approved_by), in its hold and its record; before
//	   13 the approver, the approve command's actor, was named alone.
//	   A run by hand (drill.fire, manual) is refused while a region
//	   among, above or below its regions is in recovery (恢复) after a
//	   live emergency, as a due time is then postponed, unless the fire
//	   says during_recovery, which the run then records; before 13 it
//	   started. A postponement records what the scheduler's looks found
//	   blocking it (emergency, recovery), and the run, or the due time
//	   given up, what it waited for (waited_for); before 13 neither.
//	   A retraction keeps what its correction says to people whose
//	   language is English (message_en; Activation.MessageEN and
//	   Retraction.MessageEN): the official's English words, or, for a
//	   cancellation written in Chinese without them, CorrectionTextEN;
//	   before 13 they were sent the Chinese words.
//	   A restore also draws a random tag (muster.Restore.Tag), and the
//	   restore's era (its number and tag) is what a claim records on an
//	   attempt and what its ID carries (A1000002.P00000001.1.r1-k3f9q,
//	   not .r1; the escalation's and approval texts' alike), so two
//	   clusters restored from one backup never share an attempt ID. A
//	   delivery report, or a key pressed on a call, of an era that is
//	   neither the state's own nor one it descends from (another restore
//	   of the same backup) is unknown; before, keys were taken whatever
//	   the call's restore. The restore makes its answer links with a key
//	   of its own, derived from the backup's, which is kept for the links
//	   to the activations the backup held.
//	   A backup whose call-up has not been sent yet (pending) when the
//	   person they stand in for answers 到 is not sent it: they are
//	   cancelled, their stand-in record is marked not_sent and
//	   stand_in_not_sent counts them; before 13 their call-up went out.
//	   A LIVE orange or red warning still unanswered past its respond_by
//	   calls on its commanders (叫应): the leader's warning.prompt lists,
//	   the first time it finds the warning so at the command's time,
//	   every holder of a commander token with a phone (prompted, with the
//	   command's time and no_phone when there is none) and claims their
//	   texts, each once (again only for a new leader's look at those left
//	   in flight), skipping those still due once the warning is answered,
//	   lifted or expired; warning.prompted records what became of them.
//	   A drill's warning (EXERCISE or TEST) is never listed. Before 13
//	   both commands do nothing and the warning is only marked (prompt).
//	   A reply on a drill's number that no drill takes, from someone an
//	   active LIVE call-up waits for, is marked live_waiting and counted
//	   in that call-up's data (drill_pointers: person → count), which
//	   bounds the pointers said back; before 13 nothing was kept and it
//	   got no answer. So is a key (digits) pressed on a drill's call that
//	   no drill takes (no_callup: the drill ended), counted in the same
//	   drill_pointers; before 13 only its no_callup was audited.
//	   A warning whose commanders were called on goes on to their
//	   superiors (叫应升级): warning.prompt carries the leader's response
//	   timeout (escalate_after) and listing the commanders stamps
//	   prompted.escalate_by with the command's time plus it; the leader's
//	   warning.escalate lists, the first time it finds the warning still
//	   in force and unanswered at or past escalate_by by the command's
//	   time, every holder of an approver token with a phone (escalated,
//	   with the command's time and no_phone when there is none) and claims
//	   their texts as warning.prompt does; warning.escalated records what
//	   became of them. A drill's warning never escalates. Before 13 both
//	   commands do nothing.
//	   A backup whose call-up was on the wire (sending) when the person
//	   they stand in for answered 到 is dealt with when its result is
//	   recorded: reached (sent, delivered), they get the relief SMS and
//	   no escalation clock; failed, nothing more; refused for now or gone
//	   on to another number, it is not tried again (cancelled, not_sent,
//	   stand_in_not_sent). Before 13 the reached backup was told nothing
//	   and the refused one got their call-up on its retry.
//	   A dropped result (notify.dispatch.result) of such a backup's send
//	   still claimed, not made (handed back by a stopping dispatcher, or
//	   dropped by the dispatcher once the person answered 到; the claim
//	   result says not_needed), releases the claim and takes the backup
//	   off as not sent. Before 13 the release left them pending, and the
//	   next claim sent their call-up, then the relief SMS.
//	   A drill run's call-up stood down by the drill (drill.close: its
//	   length is over; or the next run of a schedule starting after it)
//	   tells the people it reached that the drill has ended, as a
//	   trainer's stand-down does. Before 13 it told nobody.
//	   A warning keeps its texts in English (event_en, headline_en,
//	   description_en: as warning.issue gives them, for an imported alert
//	   its en-US block's) and its regions' English names as issued
//	   (area_names_en), which the en-US block of its CAP alert says;
//	   before 13 the fields are ignored and the warning is stored without
//	   them.
//	   The warning of an upstream Update that keeps the respond_by of a
//	   warning it replaced (rules 7) keeps that warning's prompted and
//	   escalated too, and first_issued_at, the time the first warning of
//	   the thread was issued: its commanders, called on once, are not
//	   listed and texted again for each update, and it escalates at the
//	   first's escalate_by. Before 13 the update started with neither.
//	   warning.prompted and warning.escalated record an outcome in the
//	   warnings that replaced the one named too (replaced_by), which kept
//	   its texts in flight.
//	   A leader without a LIVE SMS account records the 叫应 texts it
//	   claims as failed with notify.NoLiveAccountError (未能叫应); a
//	   warning.prompt or warning.escalate with retry (from a leader with
//	   one) claims such a text again while the warning is still due, up
//	   to 3 claims. (Both commands do nothing before 13.)
//	   An SMS reply on the LIVE account from a number a 叫应 or 叫应升级
//	   text went to (sent or sending) of a LIVE warning in force and
//	   still awaiting a response at the command's time is taken for the
//	   sender's acknowledgement (应), as a reply to an approver's text is
//	   taken (any from a number no roster person has or a roster person
//	   without an open call-up; a roster person's first after the text
//	   when their call-up began before it): the newest such text not yet
//	   acknowledged (else the newest; an approver's newer text takes it
//	   instead) counts it in replies and, the first time, records acked_at
//	   (the command's time) and ack_body (trimmed, at most 200 bytes); the
//	   outcome is warning_ack, audited with the warning. A warning one of
//	   whose commanders acknowledged is no longer due its escalation
//	   (warning.escalate lists nobody); it stays unanswered. Before 13
//	   such a reply was an unknown number's, or answered the call-up.
//	   warning.escalate lists a holder of an approver token whom the
//	   warning's 叫应 texted as a commander (a prompted text sent or
//	   being sent to the same phone, or to a holder of the same name
//	   folded) as skipped, not sent (notify.CalledAsCommanderError): one
//	   person holding both tokens gets the commanders' text only.
//	   A warning answered after its commanders were called on by an
//	   activation since retracted (no response: rules 6) is due its
//	   escalation as long after the retraction as prompted.escalate_by
//	   was after prompted.at, when that is later than escalate_by
//	   (plans.Warning.EscalateAt), where warning.escalate listed the
//	   superiors at once.
//	   A reply kept as the reason of a bare decline (reason_kept) goes to
//	   the decline that asked for it when the reply reaches another call-up
//	   of the sender's, answered: of their open call-ups whose message
//	   reached them, all answered, the one answered last, if it is not the
//	   one the reply reached and is a decline without a reason, keeps it
//	   (someone who answered 1 to a newer call-up, then a bare 2 to an
//	   older one of another plan); before, the reply was a note on the
//	   newer one.
//	   A run by hand (drill.fire, manual) is refused, and a due time
//	   (drill.fire) recorded missed naming it, while an EXERCISE or TEST
//	   call-up started by hand (activation.create, not a drill's run) is
//	   active over the same regions or a region above or below them
//	   (演练重叠); before 13 the run started, and the same people were
//	   drilled twice at once, each reply answering one call-up only.
//	   warning.prompt and warning.escalate on a warning whose stage was
//	   listed before, still due at the command's time, none of whose
//	   people acknowledged it (and, for warning.prompt, not escalated
//	   yet), append the texts of the holders with a phone now who have no
//	   text to that phone nor one to the same name folded that did not
//	   fail for good (no_phone false), and claim them as the others; before,
//	   people given a phone after the listing were never texted.
//	   A dispatch.claim the leader makes through the built-in Twilio
//	   simulator (sim: an agent started without an EXERCISE account, or
//	   muster dev) marks its call-up simulated and counts its claims in
//	   the dispatch counter simulated: its messages reached no phone. A
//	   drill run whose call-up is so marked is not a drill held (outcome
//	   simulated): muster drill overdue counts neither it nor its silent
//	   people. Before 13 the claim recorded nothing of it.
const Rules = 13

// maxRules is the most the command encoding holds (7 bits of the flags byte).
const maxRules = 127

// RulesAtLeast reports whether c is applied under behaviour v or newer.
func (c *Command) RulesAtLeast(v int) bool { return max(c.Rules, 1) >= v }

// MarshalBinary encodes c compactly: a version byte, a flags byte (bit 0
// Ignorable, bits 1–7 Rules: older decoders ignore them), the stamped time as
// Unix nanoseconds, then Type, ID, Actor and Payload, each prefixed by its
// length as a uvarint.
func (c *Command) MarshalBinary() ([]byte, error) {
	n := 2 + binary.MaxVarintLen64 + 4*binary.MaxVarintLen64 + len(c.Type) + len(c.ID) + len(c.Actor) + len(c.Payload)
	b := make([]byte, 0, n)
	b = append(b, commandVersion)
	if c.Rules < 0 || c.Rules > maxRules {
		return nil, fmt.Errorf("encode command: rules %d out of 0..%d", c.Rules, maxRules)
	}
	flags := byte(c.Rules) << 1
	if c.Ignorable {
		flags |= 1
	}
	b = append(b, flags)
	var ns int64
	if !c.Time.IsZero() {
		ns = c.Time.UnixNano()
	}
	b = binary.AppendVarint(b, ns)
	for _, s := range [][]byte{[]byte(c.Type), []byte(c.ID), []byte(c.Actor), c.Payload} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary produced. It rejects unknown
// versions and truncated input rather than guessing.
func (c *Command) UnmarshalBinary(b []byte) error {
	if len(b) < 2 {
		return errors.New("decode command: too short")
	}
	if b[0] != commandVersion {
		return fmt.Errorf("decode command: unknown version %d", b[0])
	}
	c.Ignorable, c.Rules = b[1]&1 != 0, int(b[1]>>1)
	b = b[2:]
	ns, n := binary.Varint(b)
	if n <= 0 {
		return errors.New("decode command: bad time")
	}
	b = b[n:]
	c.Time = time.Time{}
	if ns != 0 {
		c.Time = time.Unix(0, ns).UTC()
	}
	var fields [4][]byte
	for i := range fields {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return errors.New("decode command: truncated")
		}
		fields[i] = b[n : n+int(l)]
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return errors.New("decode command: trailing bytes")
	}
	c.Type, c.ID, c.Actor = string(fields[0]), string(fields[1]), string(fields[2])
	c.Payload = nil
	if len(fields[3]) > 0 {
		c.Payload = append([]byte(nil), fields[3]...)
	}
	return nil
}

// Consistency is how fresh a read must be.
type Consistency string

// Read consistency levels.
const (
	// Stale reads the local node's state as it is, possibly behind the leader.
	Stale Consistency = "stale"
	// Default reads state at least as new as the leader's last applied entry
	// (without re-confirming leadership).
	Default Consistency = "default"
	// Linearizable first has the leader confirm it still leads (a read-index
	// round with a quorum), then reads state at least that new.
	Linearizable Consistency = "linearizable"
)

// ParseConsistency maps "", stale, default and linearizable to a Consistency.
func ParseConsistency(s string) (Consistency, error) {
	switch Consistency(s) {
	case "":
		return Default, nil
	case Stale, Default, Linearizable:
		return Consistency(s), nil
	}
	return "", Errorf(EInvalid, "consistency %q: want stale, default or linearizable", s)
}
