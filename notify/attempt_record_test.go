package notify

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/plans"
)

func TestAttemptRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 1, 8, 0, 0, 123, time.UTC)
	for name, a := range map[string]Attempt{
		"empty":   {},
		"claimed": {N: 1, Updated: at},
		"full": {N: 3, Resent: 1, SID: "SM0123456789abcdef0123456789abcdef", Code: 30003, Error: "carrier reported undelivered",
			NextTry: at.Add(time.Minute), Updated: at, Answered: at.Add(2 * time.Minute), Reached: at.Add(time.Minute), Reason: "家中有事", Replies: 2, LastBody: "2 家中有事"},
		"claimed after a restore": {N: 2, Restored: 1, Updated: at},
		"after a restore, gone on from a number": {N: 3, Restored: 2, SID: "SMx", Updated: at,
			FailedPhones: []PhoneFailure{{Phone: "+8613800000001", Code: 21614, Attempt: 1}}},
	} {
		var got Attempt
		require.NoError(t, decodeAttempt(appendAttempt(nil, &a), &got), name)
		assert.Equal(t, a, got, name)
	}
	var got Attempt
	full := appendAttempt(nil, &Attempt{N: 2, SID: "SMx", LastBody: "收到"})
	for i := range full {
		assert.Error(t, decodeAttempt(full[:i], &got), "truncated at %d", i)
	}
	assert.Error(t, decodeAttempt(append([]byte{9}, full[1:]...), &got), "unknown version")

	// A version 1 record (seven varints, no Reached) still reads.
	v1 := []byte{1}
	for _, v := range []int64{2, 0, 30003, 1, 0, at.UnixNano(), at.UnixNano()} {
		v1 = binary.AppendVarint(v1, v)
	}
	for _, s := range []string{"SMx", "", "", "收到"} {
		v1 = binary.AppendUvarint(v1, uint64(len(s)))
		v1 = append(v1, s...)
	}
	require.NoError(t, decodeAttempt(v1, &got))
	assert.Equal(t, Attempt{N: 2, Code: 30003, Replies: 1, Updated: at, Answered: at, SID: "SMx", LastBody: "收到"}, got)
}

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		body   string
		kind   ReplyKind
		reason string
	}{
		{"1", ReplyAccept, ""}, {" Y ", ReplyAccept, ""}, {"yes", ReplyAccept, ""}, {"YES!", ReplyAccept, ""},
		{"到", ReplyAccept, ""}, {"收到", ReplyAccept, ""}, {"好", ReplyAccept, ""}, {"１", ReplyAccept, ""},
		{"2", ReplyDecline, ""}, {"2 家中有事", ReplyDecline, "家中有事"}, {"N", ReplyDecline, ""}, {"no, sick", ReplyDecline, "sick"},
		{"不能，在外地", ReplyDecline, "在外地"}, {"不", ReplyDecline, ""}, {"不去了", ReplyDecline, "不去了"}, {"２　出差", ReplyDecline, "出差"},
		{"12", ReplyNote, "12"}, {"yesterday", ReplyNote, "yesterday"}, {"nobody", ReplyNote, "nobody"},
		{"在哪集合？", ReplyNote, "在哪集合？"}, {"", ReplyNote, ""}, {"好的马上到", ReplyNote, "好的马上到"},
		// DOMAIN.md's words, and the particles people add.
		{"OK", ReplyAccept, ""}, {"ok!", ReplyAccept, ""}, {"是", ReplyAccept, ""}, {"否", ReplyDecline, ""}, {"否，出差", ReplyDecline, "出差"},
		{"好的", ReplyAccept, ""}, {"收到了", ReplyAccept, ""}, {"是的。", ReplyAccept, ""}, {"到了", ReplyAccept, ""}, {"okay", ReplyNote, "okay"},
		// Starts like a decline, declines nothing.
		{"不用担心，马上到", ReplyNote, "不用担心，马上到"}, {"不客气", ReplyNote, "不客气"},
		{"不管多晚我都到", ReplyNote, "不管多晚我都到"}, {"不会迟到", ReplyNote, "不会迟到"}, {"不好意思，来不了", ReplyNote, "不好意思，来不了"},
		{"No problem", ReplyNote, "No problem"}, {"no worries!", ReplyNote, "no worries!"},
		// A bare 不 declines alone, before a separator, or before a word that
		// says so; the whole reply is then the reason.
		{"不来", ReplyDecline, "不来"}, {"不方便，在医院", ReplyDecline, "不方便，在医院"}, {"不，在外地", ReplyDecline, "在外地"},
		{"不行", ReplyDecline, "不行"}, {"no, sick", ReplyDecline, "sick"}, {"No, problem with the car", ReplyDecline, "problem with the car"},
	} {
		got := ParseReply(tc.body)
		assert.Equal(t, tc.kind, got.Kind, "%q", tc.body)
		assert.Equal(t, tc.reason, got.Reason, "%q", tc.body)
	}
	// Under rules before rulesCarefulDeclines every 不 and no declined.
	for body, reason := range map[string]string{"No problem": "problem", "不管多晚我都到": "管多晚我都到", "不去了": "去了"} {
		assert.Equal(t, Reply{Kind: ReplyDecline, Reason: reason}, parseReply(body, replyRulesAt(7)), body)
	}
}

// A reply written as the call-up asks ("回复：1到岗，2不能到岗并说明原因")
// is an answer: people copy the instruction, run the digit into the text
// and add a word (rules 10; before, these were notes, answered with the
// help text, and their senders escalated as silent).
func TestRepliesAsTheCallUpAsks(t *testing.T) {
	for _, tc := range []struct {
		body   string
		kind   ReplyKind
		reason string
	}{
		// As instructed, and as people add to it.
		{"1到岗", ReplyAccept, ""}, {"1到", ReplyAccept, ""}, {"1 马上到", ReplyAccept, ""}, {"1 收到", ReplyAccept, ""},
		{"1，马上出发", ReplyAccept, ""}, {"1 但要晚到半小时", ReplyAccept, ""}, {"到岗", ReplyAccept, ""}, {"到岗了", ReplyAccept, ""},
		{"收到，马上到", ReplyAccept, ""}, {"好，我马上到", ReplyAccept, ""}, {"ok, on my way", ReplyAccept, ""}, {"1 now", ReplyAccept, ""},
		{"1️⃣", ReplyAccept, ""}, {"①", ReplyAccept, ""}, {"2️⃣ 在外地", ReplyDecline, "在外地"},
		{"收到～", ReplyAccept, ""}, {"收到，谢谢", ReplyAccept, ""}, {"好的，收到", ReplyAccept, ""}, {"好的，马上到", ReplyAccept, ""},
		{"收到哦", ReplyAccept, ""}, {"好哒", ReplyAccept, ""}, {"收到囉", ReplyAccept, ""}, {"OK👍", ReplyAccept, ""}, {"Ｙｅｓ", ReplyAccept, ""},
		{"2不能到岗", ReplyDecline, "不能到岗"}, {"2在外地", ReplyDecline, "在外地"}, {"2家里有事", ReplyDecline, "家里有事"},
		{"2不能到岗，在外地出差", ReplyDecline, "不能到岗,在外地出差"}, {"2 在外地", ReplyDecline, "在外地"}, {"２　在外地", ReplyDecline, "在外地"},
		{"不能到岗", ReplyDecline, "不能到岗"}, {"不能，在外地", ReplyDecline, "在外地"},
		// An acceptance that says no, or a word that only starts like one: the
		// sender is asked to answer 1 or 2.
		{"1 不能去", ReplyNote, "1 不能去"}, {"1，来不了", ReplyNote, "1，来不了"}, {"收到，但去不了", ReplyNote, "收到，但去不了"},
		{"yes but I can't come", ReplyNote, "yes but I can't come"}, {"1 no", ReplyNote, "1 no"},
		{"好像去不了", ReplyNote, "好像去不了"}, {"是否需要带雨具", ReplyNote, "是否需要带雨具"}, {"到哪里集合？", ReplyNote, "到哪里集合？"},
		{"12", ReplyNote, "12"}, {"1st", ReplyNote, "1st"}, {"21", ReplyNote, "21"},
		{"1号楼有积水", ReplyNote, "1号楼有积水"}, {"2点到", ReplyNote, "2点到"}, {"2个人在外地", ReplyNote, "2个人在外地"},
	} {
		assert.Equal(t, Reply{Kind: tc.kind, Reason: tc.reason}, ParseReply(tc.body), "%q", tc.body)
	}
	// Under rules 9 they read as before.
	for body, want := range map[string]Reply{
		"1到岗":   {Kind: ReplyNote, Reason: "1到岗"},
		"2在外地":  {Kind: ReplyNote, Reason: "2在外地"},
		"不能到岗":  {Kind: ReplyDecline, Reason: "到岗"},
		"1️⃣":   {Kind: ReplyNote, Reason: "1️⃣"},
		"收到，谢谢": {Kind: ReplyNote, Reason: "收到，谢谢"},
		"好哒":    {Kind: ReplyNote, Reason: "好哒"},
	} {
		assert.Equal(t, want, parseReply(body, replyRulesAt(9)), "%q", body)
	}
}

// The acknowledgements people type most in Chinese work chats answer as
// 到 (rules 13): an accept word said twice, 明白, a thumbs-up; N/A is a
// note. Under rules 12 they were notes.
func TestCommonAcknowledgementsAnswer(t *testing.T) {
	for _, tc := range []struct {
		body   string
		kind   ReplyKind
		reason string
	}{
		{"收到收到", ReplyAccept, ""}, {"好的好的", ReplyAccept, ""}, {"好好", ReplyAccept, ""}, {"收到，收到！", ReplyAccept, ""},
		{"收到了收到了", ReplyAccept, ""}, {"明白", ReplyAccept, ""}, {"明白了", ReplyAccept, ""}, {"明白，马上到", ReplyAccept, ""},
		{"👍", ReplyAccept, ""}, {"👍🏻", ReplyAccept, ""}, {"👍👍", ReplyAccept, ""}, {"收到👍", ReplyAccept, ""},
		// Still notes: more than acknowledgements, or a refusal after one.
		{"明白，但去不了", ReplyNote, "明白，但去不了"}, {"好好学习", ReplyNote, "好好学习"}, {"好的马上到", ReplyNote, "好的马上到"},
		{"明天到", ReplyNote, "明天到"}, {"N/A", ReplyNote, "N/A"}, {"n/a", ReplyNote, "n/a"},
		// Unchanged.
		{"收到", ReplyAccept, ""}, {"N", ReplyDecline, ""}, {"不", ReplyDecline, ""}, {"2 明白了，在外地", ReplyDecline, "明白了,在外地"},
	} {
		assert.Equal(t, Reply{Kind: tc.kind, Reason: tc.reason}, ParseReply(tc.body), "%q", tc.body)
	}
	for body, want := range map[string]Reply{
		"收到收到": {Kind: ReplyNote, Reason: "收到收到"},
		"明白":   {Kind: ReplyNote, Reason: "明白"},
		"👍":    {Kind: ReplyNote, Reason: "👍"},
		"N/A":  {Kind: ReplyDecline, Reason: "A"},
	} {
		assert.Equal(t, want, parseReply(body, replyRulesAt(12)), "%q under rules 12", body)
	}
}

// The help text for a drill's sender starts with the exercise mark, as
// every message of a drill does, an English speaker's with [EXERCISE]
// too, as their call-up's; a LIVE sender's has none.
func TestHelpTextOfADrillIsMarked(t *testing.T) {
	for lang, mark := range map[plans.Language]string{plans.LangZH: plans.ExerciseMark, plans.LangEN: plans.ExerciseMark + plans.ExerciseMarkEN} {
		assert.True(t, strings.HasPrefix(HelpText(lang, true, ReplyWords{}), plans.ExerciseMark), lang)
		assert.NotContains(t, HelpText(lang, false, ReplyWords{}), plans.ExerciseMark, lang)
		assert.Equal(t, HelpText(lang, true, ReplyWords{}), mark+HelpText(lang, false, ReplyWords{}))
	}
}

// Whatever arrives as an SMS, reading it neither panics nor loses it: a
// note keeps the whole reply, a decline's reason comes from it, and it is
// read the same way twice.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"1", "1到岗", "2在外地", "不能到岗", "收到，谢谢", "OK👍", "1️⃣", "1号楼有积水", "no problem", "不管多晚我都到", "２　出差", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, rules := range []int{7, 8, 9, 10} {
			got := parseReply(body, replyRulesAt(rules))
			require.Equal(t, got, parseReply(body, replyRulesAt(rules)))
			switch got.Kind {
			case ReplyNote:
				require.Equal(t, strings.TrimSpace(body), got.Reason)
			case ReplyAccept:
				require.Empty(t, got.Reason)
			case ReplyDecline:
				if utf8.ValidString(body) { // invalid bytes are read as U+FFFD
					require.LessOrEqual(t, len(got.Reason), len(body), "the reason comes from the reply")
				}
			default:
				t.Fatalf("kind %q", got.Kind)
			}
		}
	})
}
