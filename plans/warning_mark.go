package plans

import (
	"strings"

	"muster"
)

// liveMarks are the exercise marks a LIVE warning's event and headline must
// not carry, in Chinese and in English: the marks its CAP alert's info
// blocks start with when it is a drill's (cap.ExerciseMarkZH,
// cap.ExerciseMarkEN), which the CAP builder refuses in a LIVE alert.
var liveMarks = []string{ExerciseMark, strings.TrimSpace(ExerciseMarkEN)}

// markedText is a text of a warning checked for an exercise mark: the
// field it is given in and the text.
type markedText struct{ field, text string }

// checkLiveMarks refuses (EInvalid) the texts of a LIVE warning of which
// an event or headline, in Chinese or in English, carries an exercise
// mark (【演练】, [EXERCISE]): people would take the real warning for a
// drill, and its CAP alert (status Actual) could not be served, as the
// CAP builder refuses such an alert. The error names the field, the mark
// and the rule, in English and Chinese; upstream says why an imported
// alert is refused ("" for one issued here). Words such as 演练 or drill
// without a mark are left: a real event may name them.
func checkLiveMarks(upstream string, texts ...markedText) error {
	for _, t := range texts {
		for _, m := range liveMarks {
			if !strings.Contains(t.text, m) {
				continue
			}
			if upstream != "" {
				return muster.Errorf(muster.EInvalid, "%s %q carries the exercise mark %s, %s: a LIVE warning must not look like a drill (真实预警不得带有%s标识), and muster does not relay it; the sender should send a drill's alert with status Exercise, or a real one without the mark",
					t.field, t.text, m, upstream, m)
			}
			return muster.Errorf(muster.EInvalid, "%s %q carries the exercise mark %s: a LIVE warning must not look like a drill (真实预警不得带有%s标识): remove the mark; a drill's warning comes from an upstream exercise alert (CAP status Exercise)",
				t.field, t.text, m, m)
		}
	}
	return nil
}
