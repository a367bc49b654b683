package notify

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

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
		assert.Equal(t, Reply{Kind: ReplyDecline, Reason: reason}, parseReply(body, false), body)
	}
}

// The help text for a drill's sender starts with the exercise mark, as
// every message of a drill does; a LIVE sender's has none.
func TestHelpTextOfADrillIsMarked(t *testing.T) {
	for _, lang := range []plans.Language{plans.LangZH, plans.LangEN} {
		assert.True(t, strings.HasPrefix(HelpText(lang, true), plans.ExerciseMark), lang)
		assert.NotContains(t, HelpText(lang, false), plans.ExerciseMark, lang)
		assert.Equal(t, HelpText(lang, true), plans.ExerciseMark+HelpText(lang, false))
	}
}
