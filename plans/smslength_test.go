package plans

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSMSLengthAgreesWithSMSSegments: a text built piece by piece (GSM-7
// letters, extension characters that take two septets, Chinese, emoji
// that take two UTF-16 units, a letter outside GSM-7 that turns the text
// to UCS-2) fits in n segments by SMSLength exactly when SMSSegments of
// the whole text says so, at every length, near every limit.
func TestSMSLengthAgreesWithSMSSegments(t *testing.T) {
	alphabets := [][]string{
		{"a", "Z", "1", " ", "é", "€", "{", "、"},
		{"a", "€", "~", "^"},
		{"张", "王", "、", "😀", "a"},
		{"a", "b", "ç"},
		{"😀", "🚒", "张"},
	}
	rng := rand.New(rand.NewPCG(7, 13))
	checked := 0
	for _, alphabet := range alphabets {
		for range 40 {
			var b strings.Builder
			var l SMSLength
			for range 1200 {
				piece := ""
				for range 1 + rng.IntN(4) {
					piece += alphabet[rng.IntN(len(alphabet))]
				}
				b.WriteString(piece)
				l.Add(piece)
				text := b.String()
				_, _, segs := SMSSegments(text)
				for _, n := range []int{1, 2, 3, 10} {
					require.Equal(t, segs <= n, l.Fits(n, func() string { return text }), "%d segments of %q (%d by SMSSegments)", n, text, segs)
					checked++
				}
				if segs > 11 {
					break
				}
			}
		}
	}
	t.Logf("%d lengths checked", checked)
}
