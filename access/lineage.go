package access

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/width"

	"muster"
)

// BootstrapActor is the actor the first admin token is made by: the
// process that bootstraps a cluster (Service.Bootstrap), which holds no
// token.
const BootstrapActor = "bootstrap"

// rulesLineage is the behaviour (muster.Rules) from which a token records
// the chain of tokens that made it (Token.Makers) when it is made, and an
// approval is refused unless it comes from a person independent of the
// requester's and of every earlier approver's (Apart).
const rulesLineage = 13

// Link is one token of a lineage: who made a token, or made its maker.
type Link struct {
	// ID is the token's; empty for an actor that holds no token (the
	// process that made the first admin token) or an Unknown link.
	ID     TokenID `json:"id,omitempty"`
	Name   string  `json:"name"`
	Holder string  `json:"holder,omitempty"`
	// Unknown marks a maker the state knew no token of when the chain was
	// read (revoked before chains were recorded, or its name taken by a
	// later token): who holds it, and who made it, cannot be told.
	Unknown bool `json:"unknown,omitempty"`
}

// Lineage is a token and the tokens that made it, nearest first: the
// token itself, its maker, its maker's maker, back to the first admin
// token and the actor that made that one. Everyone who held one of them
// may have held the token (whoever makes a token is shown its secret).
type Lineage []Link

// HolderKey is the form in which two holders' names are compared to tell
// whether they name one person: full-width letters, digits and spaces as
// their narrow forms, case folded, trimmed, and each run of white space as
// one space, but none between two Chinese characters (a name typed "张 三"
// is 张三); the marks that join or part the parts of a name (the middle
// dots of 王·五 and 玛丽・居里, hyphens, periods, underscores) count as
// white space, so 王·五 is 王五 and Zhang-San is Zhang San. "Zhang San", "zhang  san " and "ＺＨＡＮＧ　ＳＡＮ" are one key;
// a name is shown as it was written, never as its key.
func HolderKey(name string) string {
	var b strings.Builder
	last := rune(0)
	parts := strings.FieldsFunc(cases.Fold().String(width.Fold.String(name)), func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(nameMarks, r)
	})
	for _, f := range parts {
		first, _ := utf8.DecodeRuneInString(f)
		if b.Len() > 0 && !(unicode.Is(unicode.Han, last) && unicode.Is(unicode.Han, first)) {
			b.WriteByte(' ')
		}
		b.WriteString(f)
		last, _ = utf8.DecodeLastRuneInString(f)
	}
	return b.String()
}

// nameMarks join or part the parts of a name: middle dots (·・•‧∙),
// hyphens and dashes, periods and underscores.
const nameMarks = "·・•‧∙-‐‑‒–—―.。_"

// SameHolder reports whether a and b name the same person (HolderKey).
func SameHolder(a, b string) bool { return HolderKey(a) == HolderKey(b) }

func linkOf(t Token) Link { return Link{ID: t.ID, Name: t.Name, Holder: t.HeldBy()} }

// LineageOf is the lineage of the token named name among toks (the live
// tokens, as ListTokens returns them). A token made under rules 13 or later
// carries its makers (Token.Makers), recorded when it was made, so revoking
// one of them since hides nothing; for an older one the chain is followed
// by name through toks, and a maker no token of toks is (revoked since, or
// whose name a later token took) ends it as an Unknown link. A name that is
// no token's is an actor of its own, held by that name.
func LineageOf(toks []Token, name string) Lineage {
	byName := make(map[string]Token, len(toks))
	for _, t := range toks {
		byName[t.Name] = t
	}
	t, ok := byName[name]
	if !ok {
		return Lineage{{Name: name, Holder: name}}
	}
	out := Lineage{linkOf(t)}
	for len(out) <= len(toks)+1 {
		if len(t.Makers) > 0 {
			return append(out, t.Makers...)
		}
		if t.CreatedBy == BootstrapActor {
			return append(out, Link{Name: BootstrapActor, Holder: BootstrapActor})
		}
		m, ok := byName[t.CreatedBy]
		if !ok || m.ID == t.ID || m.CreatedAt.After(t.CreatedAt) {
			return append(out, Link{Name: t.CreatedBy, Unknown: true})
		}
		out = append(out, linkOf(m))
		t = m
	}
	return append(out, Link{Name: t.CreatedBy, Unknown: true}) // a loop of names: not a chain
}

// Apart refuses (forbidden) an approval with the token whose lineage is
// mine when its holder and the holder of theirs — the requester's, or an
// earlier approver's — are not two independent people: they are the same
// person (their names are one HolderKey), or one of them holds a token up
// the other's lineage (made the other's token, or a token on its way).
// who says whose theirs is
// ("activation A000001 was requested by 张三"). When a link of either
// lineage is unknown and nothing ties them, it refuses too: whether they
// are independent cannot be told.
func Apart(mine, theirs Lineage, who string) error {
	if len(mine) == 0 || len(theirs) == 0 {
		return muster.Errorf(muster.EInternal, "%s: no token lineage to compare", who)
	}
	me, them := mine[0], theirs[0]
	if !me.Unknown && !them.Unknown && SameHolder(me.Holder, them.Holder) {
		return muster.Errorf(muster.EForbidden, "%s with the token %q, which %s holds as well as %q: another person must approve", who, them.Name, me.Holder, me.Name)
	}
	if tie := madeBy(theirs, me.Holder); tie != "" {
		hint := ""
		if me.ID != "" && me.Name == BootstrapTokenName {
			hint = " (the first admin token made every token, so it approves no one's request: approve with an approver token)"
		}
		return muster.Errorf(muster.EForbidden, "%s with the token %q, and %s: that person could hold both tokens; "+
			"an approval comes from someone whose token neither made the other's nor was made from it, up either chain%s", who, them.Name, tie, hint)
	}
	if tie := madeBy(mine, them.Holder); tie != "" {
		return muster.Errorf(muster.EForbidden, "%s with the token %q, and %s: that person could hold both tokens; "+
			"an approval comes from someone whose token neither made the other's nor was made from it, up either chain", who, them.Name, tie)
	}
	for _, l := range [2]Lineage{mine, theirs} {
		for _, k := range l {
			if k.Unknown {
				return muster.Errorf(muster.EForbidden, "%s with the token %q; cannot tell who made the token %q: its maker %q holds no token any more, and the chain was not recorded when it was made, "+
					"so the approval might be theirs alone: ask an approver whose token another admin made, or make the request again with a token made since", who, them.Name, l[0].Name, k.Name)
			}
		}
	}
	return nil
}

// madeBy says how holder made the first token of l, through which tokens;
// "" when holder holds none of the tokens up l.
func madeBy(l Lineage, holder string) string {
	for i := 1; i < len(l); i++ {
		if l[i].Unknown || !SameHolder(l[i].Holder, holder) {
			continue
		}
		through := ""
		if i > 1 {
			names := make([]string, 0, i-1)
			for _, k := range l[1:i] {
				names = append(names, fmt.Sprintf("%q", k.Name))
			}
			through = " through " + strings.Join(names, ", ")
		}
		return fmt.Sprintf("%s, who holds the token %q, made the token %q%s", l[i].Holder, l[i].Name, l[0].Name, through)
	}
	return ""
}
