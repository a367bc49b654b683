package plans

import (
	"errors"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"muster"
)

// PhoneRegion is the region a phone number without a country code is read in.
const PhoneRegion = "CN"

// NormalizePhone returns raw as an E.164 number ("+8613800138000"). Numbers
// without a country code are read as Chinese (13800138000, 138 0013 8000,
// 010-12345678); "+86…", "0086…" and "86…" prefixes are accepted, as are
// international numbers with "+" or "00". A number that libphonenumber does
// not consider valid (wrong length, unassigned range, not a number) is a
// *muster.Error with code EInvalid whose message says what is wrong.
//
// Well-formed Chinese mobile numbers take a fast path that gives exactly the
// library's answer (see phone_test.go); everything else goes to the library.
func NormalizePhone(raw string) (string, error) {
	if e164, ok := fastMobile(raw); ok {
		return e164, nil
	}
	return libraryPhone(raw)
}

// libraryPhone is NormalizePhone without the fast path.
func libraryPhone(raw string) (string, error) {
	e164, _, err := libraryPhoneType(raw)
	return e164, err
}

// normalizePhoneType is NormalizePhone that also says what kind of line the
// number is (phonenumbers.MOBILE, FIXED_LINE, TOLL_FREE, …).
func normalizePhoneType(raw string) (string, phonenumbers.PhoneNumberType, error) {
	if e164, ok := fastMobile(raw); ok {
		return e164, phonenumbers.MOBILE, nil
	}
	return libraryPhoneType(raw)
}

func libraryPhoneType(raw string) (string, phonenumbers.PhoneNumberType, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", phonenumbers.UNKNOWN, muster.Errorf(muster.EInvalid, "phone is empty")
	}
	if exponentForm(s) {
		return "", phonenumbers.UNKNOWN, muster.Errorf(muster.EInvalid, "phone %q is a number a spreadsheet wrote in exponent form, which lost digits: format the phone column as text and enter the number again", clip(raw))
	}
	n, err := phonenumbers.Parse(s, PhoneRegion)
	if err != nil {
		return "", phonenumbers.UNKNOWN, muster.Errorf(muster.EInvalid, "phone %q %s; %s", clip(raw), parseProblem(err), phoneHint)
	}
	if n.GetExtension() == "" && strings.IndexFunc(s, latinLetter) >= 0 {
		// libphonenumber reads letters as the digits of a keypad (O is 6)
		// or skips them: a vanity number, which a roster here never holds;
		// an O typed for 0, or an I for 1, would become some other number.
		return "", phonenumbers.UNKNOWN, muster.Errorf(muster.EInvalid, "phone %q holds letters: a phone number is digits (an O or I typed for 0 or 1?); %s", clip(raw), phoneHint)
	}
	if !phonenumbers.IsValidNumber(n) {
		return "", phonenumbers.UNKNOWN, muster.Errorf(muster.EInvalid, "phone %q %s; %s", clip(raw), validityProblem(n), phoneHint)
	}
	return phonenumbers.Format(n, phonenumbers.E164), phonenumbers.GetNumberType(n), nil
}

// serviceNumberProblem says why a valid number of kind typ cannot be a
// person's phone, or "": hotlines (400, 800 and the like), premium-rate,
// voicemail and pager numbers take no call-up SMS and no call to a person.
// Mobiles, landlines and numbers of any other kind are fine.
func serviceNumberProblem(raw string, typ phonenumbers.PhoneNumberType) string {
	var what string
	switch typ {
	case phonenumbers.TOLL_FREE:
		what = "a toll-free hotline number (such as 800…)"
	case phonenumbers.SHARED_COST:
		what = "a shared-cost hotline number (such as 400…)"
	case phonenumbers.UAN:
		what = "a company hotline number (universal access number)"
	case phonenumbers.PREMIUM_RATE:
		what = "a premium-rate service number"
	case phonenumbers.VOICEMAIL:
		what = "a voicemail access number"
	case phonenumbers.PAGER:
		what = "a pager number"
	default:
		return ""
	}
	return "phone " + strconv.Quote(clip(raw)) + " is " + what + ": a hotline cannot be called up; want the person's own mobile or landline"
}

// exponentForm reports whether s is a number written in exponent form
// (1.38001381E10, 1380013820E1), as a spreadsheet or a program's export
// writes a long number it took for a quantity: the digits after the
// mantissa's are lost, and libphonenumber, reading the E as a keypad's 3,
// would make some other valid number of it.
func exponentForm(s string) bool {
	i := strings.IndexAny(s, "eE")
	if i <= 0 || i == len(s)-1 {
		return false
	}
	mant, exp := s[:i], strings.TrimLeft(s[i+1:], "+-")
	return exp != "" && strings.Trim(mant, "0123456789.") == "" && strings.Trim(exp, "0123456789") == "" && strings.ContainsAny(mant, "0123456789")
}

// latinLetter reports whether r is a Latin letter, in ASCII or full width.
func latinLetter(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 'ａ' && r <= 'ｚ' || r >= 'Ａ' && r <= 'Ｚ'
}

const phoneHint = "want a mobile such as 13800138000, a landline with its area code such as 010-12345678, or +country code and number"

func parseProblem(err error) string {
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return "has an unknown country code"
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return "has too few digits"
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return "has too many digits"
	default:
		return "is not a phone number"
	}
}

func validityProblem(n *phonenumbers.PhoneNumber) string {
	switch phonenumbers.IsPossibleNumberWithReason(n) {
	case phonenumbers.TOO_SHORT:
		return "has too few digits"
	case phonenumbers.TOO_LONG:
		return "has too many digits"
	case phonenumbers.INVALID_LENGTH:
		return "has the wrong number of digits"
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "has an unknown country code"
	}
	if n.GetCountryCode() == 86 {
		switch nsn := len(phonenumbers.GetNationalSignificantNumber(n)); {
		case nsn < 10:
			return "has too few digits (a mobile has 11, a landline 10 to 12 with its area code)"
		case nsn > 12:
			return "has too many digits (a mobile has 11, a landline 10 to 12 with its area code)"
		}
		return "is not in any assigned Chinese mobile or landline range"
	}
	return "is not in any assigned range of its country"
}

// fastMobile recognises the common spellings of a Chinese mobile number and
// returns its E.164 form. It accepts only what libphonenumber (metadata of
// github.com/nyaruka/phonenumbers v1.8.1) accepts with the same result; for
// anything else it returns ok=false and the caller asks the library.
//
// Accepted: ASCII digits separated by spaces or hyphens, optionally after a
// leading "+", whose digits are a mobile number from a range where every
// 11-digit number is valid, as 11 digits, "86"+11 digits, "+86"+11 digits or
// "0086"+11 digits.
func fastMobile(raw string) (string, bool) {
	if len(raw) < 11 || len(raw) > 32 {
		return "", false
	}
	var d [15]byte
	n, plus := 0, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(d) {
				return "", false
			}
			d[n] = c
			n++
		case c == ' ' || c == '-':
		case c == '+' && n == 0 && !plus:
			plus = true
		default:
			return "", false
		}
	}
	var m []byte
	switch {
	case n == 11 && !plus:
		m = d[:11]
	case n == 13 && d[0] == '8' && d[1] == '6':
		m = d[2:13]
	case n == 15 && !plus && string(d[:4]) == "0086":
		m = d[4:15]
	default:
		return "", false
	}
	if !mobileRange(m) {
		return "", false
	}
	if plus && n == 13 && len(raw) == 14 {
		return raw, true // already E.164: no copy
	}
	var out [14]byte
	out[0], out[1], out[2] = '+', '8', '6'
	copy(out[3:], m)
	return string(out[:]), true
}

// mobileRange reports whether the 11 digits m are in a Chinese mobile range
// that libphonenumber accepts in full:
// 1740[0-5]\d{6} | 1(?:[38]\d|4[57]|[59][0-35-9]|6[25-7]|7[0-35-8])\d{8}.
func mobileRange(m []byte) bool {
	if m[0] != '1' {
		return false
	}
	c := m[2]
	switch m[1] {
	case '3', '8':
		return true
	case '4':
		return c == '5' || c == '7'
	case '5', '9':
		return c != '4'
	case '6':
		return c == '2' || c == '5' || c == '6' || c == '7'
	case '7':
		if c == '4' {
			return m[3] == '0' && m[4] <= '5'
		}
		return c != '9'
	}
	return false
}

// phoneType is the kind of line an E.164 number from NormalizePhone is:
// phonenumbers.MOBILE, FIXED_LINE and so on (UNKNOWN if it does not parse).
// Chinese mobiles in the ranges fastMobile knows are answered without the
// library.
func phoneType(e164 string) phonenumbers.PhoneNumberType {
	if len(e164) == 14 && strings.HasPrefix(e164, "+86") && allDigits(e164[3:]) && mobileRange([]byte(e164[3:])) {
		return phonenumbers.MOBILE
	}
	n, err := phonenumbers.Parse(e164, PhoneRegion)
	if err != nil {
		return phonenumbers.UNKNOWN
	}
	return phonenumbers.GetNumberType(n)
}

// Landline reports whether e164, a number as NormalizePhone gives it, is a
// fixed line, which takes no SMS (a number its country does not tell apart
// from a mobile is not). It is judged by this muster's numbering data, so
// it is for the leader's decisions (the dispatcher), never for the state
// machine: two musters of different releases may judge a number apart.
func Landline(e164 string) bool { return phoneType(e164) == phonenumbers.FIXED_LINE }

// dialledForm writes an E.164 number the way a person in China dials it: a
// Chinese landline with its area code (021-61234599), a Chinese mobile as
// its 11 digits, anything else in international form.
func dialledForm(e164 string) string {
	n, err := phonenumbers.Parse(e164, PhoneRegion)
	if err != nil {
		return e164
	}
	if n.GetCountryCode() != 86 {
		return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
	}
	nsn := phonenumbers.GetNationalSignificantNumber(n)
	if ac := phonenumbers.GetLengthOfGeographicalAreaCode(n); ac > 0 && ac < len(nsn) {
		return "0" + nsn[:ac] + "-" + nsn[ac:]
	}
	return nsn
}

// landlineFirstProblem says why phones, a person's numbers in order, would
// keep call-up SMS from reaching them: the first is a landline and a later
// one a mobile. Call-up SMS try the first phone first (and a landline is
// sent none: the call-up goes on to the next phone, rules 11), so the
// mobile comes first. It returns "" when the order is fine.
func landlineFirstProblem(phones []string) string {
	if len(phones) < 2 || phoneType(phones[0]) != phonenumbers.FIXED_LINE {
		return ""
	}
	for _, ph := range phones[1:] {
		if phoneType(ph) == phonenumbers.MOBILE {
			return "the first phone " + dialledForm(phones[0]) + " is a landline: call-up SMS try the first phone first; put the mobile first"
		}
	}
	return ""
}
