package plans

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"plain mobile", "13800138000", "+8613800138000"},
		{"spaced mobile", "138 0013 8000", "+8613800138000"},
		{"hyphenated with +86", "+86-138-0013-8000", "+8613800138000"},
		{"0086 prefix", "008613800138000", "+8613800138000"},
		{"86 prefix without plus", "8613800138000", "+8613800138000"},
		{"already E.164", "+8613800138000", "+8613800138000"},
		{"surrounding spaces", "  13800138000 ", "+8613800138000"},
		{"full-width digits", "１３８００１３８０００", "+8613800138000"},
		{"parentheses", "(138)0013-8000", "+8613800138000"},
		{"dots", "138.0013.8000", "+8613800138000"},
		{"Beijing landline", "010-12345678", "+861012345678"},
		{"landline with national prefix", "0571 8888 6666", "+8657188886666"},
		{"US number", "+1 415 555 2671", "+14155552671"},
		{"HK mobile", "+852 5123 4567", "+85251234567"},
		{"17400 satellite range", "17400123456", "+8617400123456"},
		{"198 range", "19812345678", "+8619812345678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizePhone(tt.raw)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNormalizePhoneInvalid(t *testing.T) {
	tests := []struct {
		name, raw, reason string
	}{
		{"empty", "  ", "phone is empty"},
		{"letters", "call me", "is not a phone number"},
		{"ten digits", "1380013800", "is not in any assigned"},
		{"twelve digits", "138001380001", "is not in any assigned"},
		{"unassigned 12x range", "12345678901", "is not in any assigned"},
		{"unassigned 174 range", "17490000000", "is not in any assigned"},
		{"too short", "12", "too few digits"},
		{"unknown country", "+999 1234 5678", "unknown country code"},
		{"too long", "1380013800013800138000", "too many digits"},
		// A spreadsheet's exponent form: libphonenumber skips the E and
		// glues the digits into some other valid number (+8613800138110).
		{"exponent form", "1.38001381E10", "exponent form"},
		{"exponent form without a point", "1380013820E1", "exponent form"},
		{"exponent form with a sign", "1.38001381E+10", "exponent form"},
		// Letters: read as a keypad's digits or skipped, they made another number.
		{"vanity letters", "1-800-FLOWERS", "holds letters"},
		{"O typed for 0", "13800138OOO", "holds letters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizePhone(tt.raw)
			require.Error(t, err)
			assert.Empty(t, got)
			assert.True(t, muster.IsCode(err, muster.EInvalid), "code %q", muster.ErrorCode(err))
			assert.Contains(t, err.Error(), tt.reason)
		})
	}
}

// phoneSpellings writes the 11-digit national number m the ways people type it.
var phoneSpellings = []func(m string) string{
	func(m string) string { return m },
	func(m string) string { return m[:3] + " " + m[3:7] + " " + m[7:] },
	func(m string) string { return m[:3] + "-" + m[3:7] + "-" + m[7:] },
	func(m string) string { return "+86" + m },
	func(m string) string { return "+86 " + m },
	func(m string) string { return "+86-" + m[:3] + "-" + m[3:7] + "-" + m[7:] },
	func(m string) string { return "0086" + m },
	func(m string) string { return "86" + m },
	func(m string) string { return " " + m + " " },
	func(m string) string { return "+ 86 " + m },
}

// TestFastMobileMatchesLibrary is the proof that the fast path changes nothing:
// for every five-digit prefix 10000–19999, with random suffixes, plain and
// in a random spelling, the fast path either declines or returns exactly
// what the library returns; and for plain eleven-digit numbers it accepts
// exactly what the library accepts (FuzzNormalizePhone tries other input).
func TestFastMobileMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	perPrefix := 2
	if testing.Short() || raceEnabled {
		perPrefix = 1
	}
	fast, missed := 0, 0
	for p := 10000; p < 20000; p++ {
		for range perPrefix {
			m := fmt.Sprintf("%d%06d", p, rng.IntN(1_000_000))
			raws := []string{m, phoneSpellings[1+rng.IntN(len(phoneSpellings)-1)](m)}
			if raceEnabled && p%4 != 0 {
				raws = raws[:1] // spellings on a quarter of the prefixes
			}
			for _, raw := range raws {
				got, ok := fastMobile(raw)
				want, err := libraryPhone(raw)
				if ok {
					fast++
					require.NoError(t, err, "fast path accepted %q, library rejects it", raw)
					require.Equal(t, want, got, "fast path and library disagree on %q", raw)
				} else if raw == m && err == nil {
					missed++
					t.Errorf("library accepts plain %q, fast path declines it", raw)
				}
			}
		}
	}
	t.Logf("fast path took %d numbers, declined %d valid plain ones", fast, missed)
	assert.Positive(t, fast)
}

func TestFastMobileDeclines(t *testing.T) {
	for _, raw := range []string{
		"", "1380013800", "138001380001", "+13800138000", "(138)00138000", "138.0013.8000",
		"１３８００１３８０００", "13800138000\t", "++8613800138000", "+86+13800138000",
		"23800138000", "17900000000", "14600000000", "0013800138000",
	} {
		_, ok := fastMobile(raw)
		assert.False(t, ok, raw)
	}
}

func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"13800138000", "138 0013 8000", "+86-138-0013-8000", "008613800138000",
		"8613800138000", "+8613800138000", "17400123456", "- 13800138000", "+ 86 138 0013 8000", "010-12345678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := NormalizePhone(raw)
		if err != nil {
			require.True(t, muster.IsCode(err, muster.EInvalid))
			require.Empty(t, got)
		}
		if fast, ok := fastMobile(raw); ok {
			want, err := libraryPhone(raw)
			require.NoError(t, err, "fast path accepted %q, library rejects it", raw)
			require.Equal(t, want, fast, "fast path and library disagree on %q", raw)
		}
	})
}

// benchPhones is a realistic mix: mostly plain mobiles, some spelled with
// spaces or +86, one landline in ten.
var benchPhones = []string{
	"13800138000", "13912345678", "15098765432", "18600001111", "138 0013 8000",
	"+86-139-1234-5678", "+8615098765432", "13700137000", "18912341234", "010-12345678",
}

// BenchmarkNormalizePhone compares the library alone ("library", the cost
// before the fast path) with NormalizePhone on the same mix ("mix"), on
// mobiles only ("mobiles", the common case in a roster) and on one plain
// mobile ("plain").
func BenchmarkNormalizePhone(b *testing.B) {
	mobiles := benchPhones[:len(benchPhones)-1]
	cases := []struct {
		name   string
		phones []string
		f      func(string) (string, error)
	}{
		{"library", benchPhones, libraryPhone},
		{"mix", benchPhones, NormalizePhone},
		{"library/mobiles", mobiles, libraryPhone},
		{"mobiles", mobiles, NormalizePhone},
		{"plain", []string{"13800138000"}, NormalizePhone},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := c.f(c.phones[i%len(c.phones)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A roster whose phone column a spreadsheet wrote in exponent form is
// refused row by row, saying so, where the rows were taken with numbers
// made of the mantissa's digits and the exponent's (1.38001381E10 became
// +8613800138110, someone else's).
func TestParseRosterRefusesPhonesInExponentForm(t *testing.T) {
	ro, err := ParseRoster(strings.NewReader("姓名,手机,网格,类别\n赵一,1.38001381E10,990101001001001,党员\n钱二,13800138001,990101001001001,党员\n"))
	require.NoError(t, err)
	require.Len(t, ro.Errors, 1, "errors: %v", ro.Errors)
	assert.Equal(t, 2, ro.Errors[0].Row)
	assert.Equal(t, "phone", ro.Errors[0].Field)
	assert.Contains(t, ro.Errors[0].Reason, "format the phone column as text")
	require.Len(t, ro.Rows, 1)
	assert.Equal(t, []string{"+8613800138001"}, ro.Rows[0].Phones)
}
