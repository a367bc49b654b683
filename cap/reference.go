package cap

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Reference identifies an earlier alert, as CAP's <references> lists them:
// sender, identifier and sent time. Receivers may match references by their
// text, so Sent should be in the location the earlier alert was written in
// (Alert.Reference keeps it); within muster, compare Sender and Identifier and
// Sent with time.Time.Equal.
type Reference struct {
	Sender     string
	Identifier string
	Sent       time.Time
}

// String is the reference as CAP writes it: sender,identifier,sent.
func (r Reference) String() string {
	return r.Sender + "," + r.Identifier + "," + FormatTime(r.Sent)
}

// Reference returns the reference other alerts use to update or cancel a.
func (a *Alert) Reference() Reference {
	return Reference{Sender: a.Sender, Identifier: a.Identifier, Sent: a.Sent.Time}
}

// formatReferences writes refs as a CAP <references> value.
func formatReferences(refs []Reference) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, " ")
}

// ParseReferences reads a CAP <references> value: white-space-separated
// sender,identifier,sent triples whose sender and identifier pass
// IdentifierProblem and whose sent is a CAP timestamp. "" is no references.
// The error names the first bad triple.
func ParseReferences(s string) ([]Reference, error) {
	var refs []Reference
	for i, f := range strings.Fields(s) {
		parts := strings.Split(f, ",")
		if len(parts) != 3 {
			return nil, fmt.Errorf("reference %d %q: want sender,identifier,sent", i+1, clip(f))
		}
		r := Reference{Sender: parts[0], Identifier: parts[1]}
		if p := IdentifierProblem(r.Sender); p != "" {
			return nil, fmt.Errorf("reference %d %q: sender %s", i+1, clip(f), p)
		}
		if p := IdentifierProblem(r.Identifier); p != "" {
			return nil, fmt.Errorf("reference %d %q: identifier %s", i+1, clip(f), p)
		}
		t, err := ParseTime(parts[2])
		if err != nil {
			return nil, fmt.Errorf("reference %d: sent %w", i+1, err)
		}
		r.Sent = t
		refs = append(refs, r)
	}
	return refs, nil
}

// IdentifierProblem says why s cannot be a CAP <identifier> or <sender>, or
// returns "" when it can: CAP forbids spaces, commas and the restricted
// characters < and &, and muster also refuses other white space and control
// characters, which would break a <references> list the same way.
func IdentifierProblem(s string) string {
	if s == "" {
		return "missing"
	}
	for _, r := range s {
		switch {
		case r == ',':
			return fmt.Sprintf("%q contains a comma", clip(s))
		case r == '<' || r == '&':
			return fmt.Sprintf("%q contains %q: CAP restricts < and &", clip(s), r)
		case unicode.IsSpace(r):
			return fmt.Sprintf("%q contains white space", clip(s))
		case unicode.IsControl(r) || r == unicode.ReplacementChar:
			return fmt.Sprintf("%q contains the control or invalid character %U", clip(s), r)
		}
	}
	return ""
}
