package notify

import (
	"fmt"
	"unicode/utf8"

	"muster/plans"
)

// MaxSMSBody is the most characters Twilio takes in one message body; a
// longer one is refused (error 21617) and nothing is sent.
const MaxSMSBody = 1600

// longSMSWarning is the preview's warning about the sample SMS when it runs
// to more than plans.MaxSMSSegments parts, saying what each recipient's message
// costs and whether Twilio will refuse it; "" when the sample is short.
func longSMSWarning(s SampleSMS) string {
	if s.Segments <= plans.MaxSMSSegments {
		return ""
	}
	part := 67
	if s.Encoding == plans.EncodingGSM7 {
		part = 153
	}
	n := utf8.RuneCountInString(s.Text)
	if n > MaxSMSBody {
		return fmt.Sprintf("LONG SMS — the sample SMS is %d characters, %d segments (%s, %d characters a part): Twilio WILL refuse a body over %d characters and then sends nothing, and each recipient's message is about as long; shorten the reason or the plan's template.",
			n, s.Segments, s.Encoding, part, MaxSMSBody)
	}
	return fmt.Sprintf("LONG SMS — each recipient's SMS runs to about %d segments (%s, %d characters a part; the sample %d characters): providers bill every part. Twilio refuses a body over %d characters, and then nothing is sent; shorten the reason or the plan's template.",
		s.Segments, s.Encoding, part, n, MaxSMSBody)
}
