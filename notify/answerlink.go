package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// One-tap answer links. A call-up SMS ends with {public URL}/r/{token}; the
// token names one recipient of one activation and carries a MAC made with
// the cluster's answer-link key, so it can be neither forged nor altered.
// The key is replicated state: the leader creates it once (answer.key,
// random bytes stamped into the command) before the first send that needs
// a link, and every node reads it to render and to check links. A restore
// retires it for a key of its own (restoreAnswerKey).

// CmdAnswerKey creates the answer-link key. It carries the key; applying it
// stores the key only when none exists, so the first one committed stands.
const CmdAnswerKey = "answer.key"

// AnswerLinkPath is the path of the responder page under the public URL;
// the token follows it.
const AnswerLinkPath = "/r/"

// Sizes of the key and of a token's MAC: HMAC-SHA256 over the activation
// and person IDs, truncated to 96 bits.
const (
	AnswerKeySize = 32
	answerMACSize = 12
	// maxAnswerToken bounds the tokens worth decoding: two 64-bit
	// uvarints and the MAC in base64url.
	maxAnswerToken = (2*binary.MaxVarintLen64 + answerMACSize + 2) / 3 * 4
)

// bAnswerLinks holds the key (under answerKeyName) and the keys a restore
// retired (under retiredKeysName: retiredAnswerKeys, as JSON).
var (
	bAnswerLinks    = []byte("answer_links")
	answerKeyName   = []byte("key")
	retiredKeysName = []byte("retired")
)

// AnswerKey is the cluster's key for answer links. It is the same on every
// node and never changes once created, but when a restored backup starts
// a new cluster (restoreAnswerKey).
type AnswerKey []byte

// retiredAnswerKey is a key a restore retired, which still opens the links
// it made to the activations the backup holds (numbered Through and
// below), and no others: those numbered after are another cluster's.
type retiredAnswerKey struct {
	Key     AnswerKey `json:"key"`
	Through uint64    `json:"through"`
}

// restoreAnswerKey gives the restore of era a key of its own, in place of
// the backup's, when the backup holds one: derived from it and the era, so
// that every node has it, and two restores of one backup have two. The
// backup's key is kept (retiredAnswerKey) for the links to its
// activations: those people hold. The links the restored cluster makes,
// to its own activations and to those open in the backup alike, are made
// with the new key, so a link one restored cluster sent opens nothing on
// another, though they number their activations alike. Run by
// MarkRestored, before the activations are numbered apart.
func restoreAnswerKey(tx *bolt.Tx, era int) error {
	old := answerKeyIn(tx)
	if old == nil {
		return nil // no link was made: the first send makes a key (answer.key)
	}
	b := tx.Bucket(bAnswerLinks)
	var retired []retiredAnswerKey
	if v := b.Get(retiredKeysName); v != nil {
		if err := json.Unmarshal(v, &retired); err != nil {
			return fmt.Errorf("retired answer-link keys: %w", err)
		}
	}
	var through uint64
	if ab := tx.Bucket(bActivations); ab != nil {
		through = ab.Sequence()
	}
	retired = append(retired, retiredAnswerKey{Key: old, Through: through})
	data, err := json.Marshal(retired)
	if err != nil {
		return err
	}
	if err := b.Put(retiredKeysName, data); err != nil {
		return err
	}
	h := hmac.New(sha256.New, old)
	h.Write([]byte("muster answer link restore\x00" + eraSuffix(era)))
	return b.Put(answerKeyName, h.Sum(nil))
}

// checkAnswerLink returns the activation and person a token names when the
// state's key made it, or a key a restore retired made it to an activation
// the backup held (retiredAnswerKey); otherwise ENotFound.
func checkAnswerLink(tx *bolt.Tx, key AnswerKey, token string) (plans.ActivationID, plans.PersonID, error) {
	act, person, err := key.Check(token)
	if err == nil {
		return act, person, nil
	}
	var retired []retiredAnswerKey
	if v := tx.Bucket(bAnswerLinks).Get(retiredKeysName); v == nil || json.Unmarshal(v, &retired) != nil {
		return "", "", err
	}
	for _, r := range retired {
		if act, person, rerr := r.Key.Check(token); rerr == nil {
			if n, ok := idNumber(string(act), "A", 6); ok && n <= r.Through {
				return act, person, nil
			}
		}
	}
	return "", "", err
}

// Token is the link token of person's call-up by activation act: the
// activation and person numbers as uvarints, then the MAC, in unpadded
// base64url: 23 characters up to 16,383 activations and two million
// people (fewer below 128 of either; 24 after a restore, whose call-ups
// are numbered from a million on). It fails for IDs that are not
// muster's own (A000001, P00000001).
func (k AnswerKey) Token(act plans.ActivationID, person plans.PersonID) (string, error) {
	if len(k) == 0 {
		return "", fmt.Errorf("answer link: no key")
	}
	a, ok := idNumber(string(act), "A", 6)
	if !ok {
		return "", fmt.Errorf("answer link: activation ID %q is not of the form A000001", act)
	}
	p, ok := idNumber(string(person), "P", 8)
	if !ok {
		return "", fmt.Errorf("answer link: person ID %q is not of the form P00000001", person)
	}
	b := make([]byte, 0, 2*binary.MaxVarintLen64+answerMACSize)
	b = binary.AppendUvarint(b, a)
	b = binary.AppendUvarint(b, p)
	b = append(b, k.mac(act, person)...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Link is the answer link of person's call-up by act under publicURL.
func (k AnswerKey) Link(publicURL string, act plans.ActivationID, person plans.PersonID) (string, error) {
	tok, err := k.Token(act, person)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(publicURL, "/") + AnswerLinkPath + tok, nil
}

// Check returns the activation and person a token names. Any token this
// key did not make, in exactly this form, is ENotFound.
func (k AnswerKey) Check(token string) (plans.ActivationID, plans.PersonID, error) {
	act, person, mac, ok := splitAnswerToken(token)
	if !ok || len(k) == 0 || !hmac.Equal(mac, k.mac(act, person)) {
		return "", "", errNoAnswerLink
	}
	// One token per recipient: another encoding of the same numbers (a
	// longer uvarint, stray base64 bits) is not that token.
	if want, err := k.Token(act, person); err != nil || want != token {
		return "", "", errNoAnswerLink
	}
	return act, person, nil
}

var errNoAnswerLink = muster.Errorf(muster.ENotFound, "no call-up has this answer link")

// splitAnswerToken decodes a token's activation, person and MAC, checking
// only its form.
func splitAnswerToken(token string) (plans.ActivationID, plans.PersonID, []byte, bool) {
	if len(token) > maxAnswerToken {
		return "", "", nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", "", nil, false
	}
	a, n := binary.Uvarint(b)
	if n <= 0 {
		return "", "", nil, false
	}
	p, m := binary.Uvarint(b[n:])
	if m <= 0 || len(b)-n-m != answerMACSize {
		return "", "", nil, false
	}
	return activationKey(a), plans.PersonID(fmt.Sprintf("P%08d", p)), b[n+m:], true
}

func (k AnswerKey) mac(act plans.ActivationID, person plans.PersonID) []byte {
	h := hmac.New(sha256.New, k)
	h.Write([]byte("muster answer link\x00"))
	h.Write([]byte(act))
	h.Write([]byte{0})
	h.Write([]byte(person))
	return h.Sum(nil)[:answerMACSize]
}

// idNumber parses an ID made as prefix and a zero-padded number of at least
// width digits, accepting only that exact form.
func idNumber(id, prefix string, width int) (uint64, bool) {
	digits, ok := strings.CutPrefix(id, prefix)
	if !ok || len(digits) < width {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || fmt.Sprintf("%s%0*d", prefix, width, n) != id {
		return 0, false
	}
	return n, true
}

// sampleAnswerLink is a link as long as the real one to person of the next
// activation, made with a key no node has: previews count the segments of
// the message people will get without showing anyone a working link.
func sampleAnswerLink(tx *bolt.Tx, publicURL string, person plans.PersonID) string {
	if publicURL == "" {
		return ""
	}
	var next uint64 = 1
	if b := tx.Bucket(bActivations); b != nil {
		next = b.Sequence() + 1
	}
	link, err := AnswerKey(make([]byte, AnswerKeySize)).Link(publicURL, activationKey(next), person)
	if err != nil {
		return ""
	}
	return link
}

// ---- the key ----

type answerKeyCreate struct {
	Key []byte `json:"key"`
}

// AnswerKeyResult is what answer.key did: the key in the state afterwards,
// and whether this command created it.
type AnswerKeyResult struct {
	Key     AnswerKey `json:"key"`
	Created bool      `json:"created"`
}

func applyAnswerKey(tx *bolt.Tx, c *muster.Command) (any, error) {
	var req answerKeyCreate
	if err := json.Unmarshal(c.Payload, &req); err != nil {
		return nil, invalidf("answer key: %v", err)
	}
	if len(req.Key) != AnswerKeySize {
		return nil, invalidf("answer key: %d bytes, want %d", len(req.Key), AnswerKeySize)
	}
	b, err := tx.CreateBucketIfNotExists(bAnswerLinks)
	if err != nil {
		return nil, err
	}
	if k := b.Get(answerKeyName); k != nil {
		return AnswerKeyResult{Key: bytes.Clone(k)}, nil
	}
	if err := b.Put(answerKeyName, bytes.Clone(req.Key)); err != nil {
		return nil, err
	}
	return AnswerKeyResult{Key: req.Key, Created: true}, nil
}

// answerKeyIn reads the key from tx; nil when none was created yet.
func answerKeyIn(tx *bolt.Tx) AnswerKey {
	b := tx.Bucket(bAnswerLinks)
	if b == nil {
		return nil
	}
	if k := b.Get(answerKeyName); len(k) == AnswerKeySize {
		return AnswerKey(bytes.Clone(k))
	}
	return nil
}

// ReadAnswerKey reads the answer-link key at a consistency level; nil when
// none was created yet.
func ReadAnswerKey(ctx context.Context, v Viewer, level muster.Consistency) (AnswerKey, error) {
	var key AnswerKey
	err := v.View(ctx, level, func(tx *bolt.Tx) error {
		key = answerKeyIn(tx)
		return nil
	})
	return key, err
}

// EnsureAnswerKey returns the answer-link key, creating it first if the
// state has none: it proposes answer.key with 32 random bytes drawn here,
// and returns whichever key the state holds once that is applied (another
// proposer's, if theirs came first). Leader services call it before the
// first send that needs a link.
func EnsureAnswerKey(ctx context.Context, a Applier, v Viewer, actor string) (AnswerKey, error) {
	key, err := ReadAnswerKey(ctx, v, muster.Stale)
	if err != nil || key != nil {
		return key, err
	}
	fresh := make([]byte, AnswerKeySize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("answer key: %w", err)
	}
	payload, err := json.Marshal(answerKeyCreate{Key: fresh})
	if err != nil {
		return nil, err
	}
	var out AnswerKeyResult
	if err := a.Apply(ctx, &muster.Command{Type: CmdAnswerKey, Actor: actor, Payload: payload}, &out); err != nil {
		return nil, fmt.Errorf("create the answer-link key: %w", err)
	}
	if len(out.Key) != AnswerKeySize {
		return nil, fmt.Errorf("create the answer-link key: the state holds %d bytes", len(out.Key))
	}
	return out.Key, nil
}

// answerKeyCache holds the answer-link key once a leader service has read
// or created it: the key never changes, so the state is asked once.
type answerKeyCache struct {
	key atomic.Pointer[AnswerKey]
	// failed counts links that could not be made; the first is logged.
	failed atomic.Int64
}

// link is person's answer link in act's messages under key: "" when key is
// nil (no link wanted) or the link cannot be made; the message then goes
// without it, as reaching the person matters more.
func (c *answerKeyCache) link(key AnswerKey, publicURL string, act plans.ActivationID, person plans.PersonID, logger *slog.Logger) string {
	if key == nil || publicURL == "" {
		return ""
	}
	link, err := key.Link(publicURL, act, person)
	if err != nil {
		if c.failed.Add(1) == 1 {
			logger.Warn("a message goes without its answer link", "activation", act, "recipient", person, "err", err)
		}
		return ""
	}
	return link
}

// load is the key held, nil before ensure succeeded.
func (c *answerKeyCache) load() AnswerKey {
	if k := c.key.Load(); k != nil {
		return *k
	}
	return nil
}

// ensure returns the key, reading or creating it (EnsureAnswerKey) the
// first time.
func (c *answerKeyCache) ensure(ctx context.Context, a Applier, v Viewer, actor string) (AnswerKey, error) {
	if k := c.load(); k != nil {
		return k, nil
	}
	k, err := EnsureAnswerKey(ctx, a, v, actor)
	if err != nil {
		return nil, err
	}
	c.key.Store(&k)
	return k, nil
}

// ---- the responder page ----

// AnswerPage is what an answer link shows: the call-up as the recipient's
// message names it, in their language, and where their answer stands.
type AnswerPage struct {
	Activation plans.ActivationID `json:"activation"`
	Person     plans.PersonID     `json:"person"`
	Language   plans.Language     `json:"language"`
	Purpose    Purpose            `json:"purpose"`
	Plan       string             `json:"plan"`       // title, in English for an English recipient when the plan has one
	Level      string             `json:"level"`      // Ⅰ–Ⅳ (I–IV in English)
	LevelName  string             `json:"level_name"` // 特别重大…一般 (the English names in English)
	Regions    string             `json:"regions"`
	Name       string             `json:"name"`
	Roles      string             `json:"roles"`
	Status     Status             `json:"status"` // the activation's
	// Open is set while answers are taken: the activation is active and
	// is not a correction.
	Open      bool `json:"open"`
	Retracted bool `json:"retracted,omitempty"`
	// Notice is the retraction's message (what the correction said), and
	// Corrected is set when it corrects the call-up rather than cancels it.
	Notice    string    `json:"notice,omitempty"`
	Corrected bool      `json:"corrected,omitempty"`
	State     State     `json:"state"` // the recipient's
	Answered  time.Time `json:"answered,omitzero"`
	// NotADrill is set on a LIVE call-up whose SMS said it is no drill
	// (plans.NotADrillMark): it stood down drills where it started or
	// took its people off drills elsewhere, so they may just have had one.
	NotADrill bool   `json:"not_a_drill,omitempty"`
	Reason    string `json:"reason,omitempty"` // a decline's reason
}

// AnswerPage reads the call-up an answer link names. A token this
// cluster's key did not make, or one naming no recipient, is ENotFound. A
// Stale read that does not find what a valid-looking link names (this node
// lags behind the call-up, or has no key yet) is retried at Default.
func (in *Inbound) AnswerPage(ctx context.Context, level muster.Consistency, token string) (AnswerPage, error) {
	if in.view == nil {
		return AnswerPage{}, muster.Errorf(muster.EUnavailable, "this node cannot read call-ups")
	}
	if _, _, _, ok := splitAnswerToken(token); !ok {
		return AnswerPage{}, errNoAnswerLink
	}
	page, behind, err := in.answerPage(ctx, level, token)
	if behind && level == muster.Stale {
		page, _, err = in.answerPage(ctx, muster.Default, token)
	}
	return page, err
}

// answerPage reads the page at level; behind reports a miss that a fresher
// read might not have (no key, or no such activation or recipient yet).
func (in *Inbound) answerPage(ctx context.Context, level muster.Consistency, token string) (AnswerPage, bool, error) {
	var out AnswerPage
	behind := false
	err := in.view.View(ctx, level, func(tx *bolt.Tx) error {
		key := answerKeyIn(tx)
		if key == nil {
			behind = true
			return errNoAnswerLink
		}
		act, person, err := checkAnswerLink(tx, key, token)
		if err != nil {
			return err
		}
		a, err := getActivation(tx, act)
		if err != nil {
			behind = muster.IsCode(err, muster.ENotFound)
			return err
		}
		ad := activationData(tx, act)
		var v []byte
		if ad != nil {
			v = ad.Bucket(bRecipients).Get([]byte(person))
		}
		if v == nil {
			behind = true
			return muster.Errorf(muster.ENotFound, "person %s is not a recipient of %s", person, act)
		}
		r, err := decodeRecipient([]byte(person), v)
		if err != nil {
			return err
		}
		att, _, err := readAttempt(ad, []byte(person))
		if err != nil {
			return err
		}
		d := MessageData(a, r, "")
		out = AnswerPage{Activation: act, Person: person, Language: r.Language, Purpose: a.Purpose, Plan: d.Plan, Level: d.Level,
			LevelName: d.LevelName, Regions: d.Region, Name: r.Name, Roles: d.Roles, Status: a.Status,
			Open: a.Status == StatusActive && a.Retracts == "", Retracted: a.Retraction != nil, State: r.State,
			NotADrill: a.Purpose == PurposeLive && a.Retracts == "" && len(a.StoppedDrills)+len(a.SparedFrom) > 0}
		if ret := a.Retraction; ret != nil {
			out.Notice, out.Corrected = ret.Message, ret.Correct
			if r.Language == plans.LangEN && ret.MessageEN != "" { // what their correction says (rules 13)
				out.Notice = ret.MessageEN
			}
		}
		if r.State.Answered() {
			out.Answered = att.Answered
			if r.State == StateDeclined {
				out.Reason = att.Reason
			}
		}
		return nil
	})
	return out, behind, err
}

// MaxWebReason bounds, in characters, the reason a web decline keeps (160
// Chinese characters stay within the 500 bytes an answer's reason is kept to).
const MaxWebReason = 160

// webAnswerBody is how a web answer reads in the attempt record and in
// notes: "web:1", or "web:2" and the reason.
func webAnswerBody(kind ReplyKind, reason string) string {
	if kind == ReplyAccept {
		return "web:1"
	}
	if reason == "" {
		return "web:2"
	}
	return "web:2 " + reason
}

// applyWebAnswer records an answer given on the responder page: it names
// its activation and person exactly (the link did), so unlike an SMS reply
// it is never attributed by phone number. The first answer stands; a later
// one is kept as a note. An activation that is no longer active, or a
// correction, takes no answer (no_callup, audited).
func applyWebAnswer(tx *bolt.Tx, acts actCache, c *muster.Command, it InboundItem) (InboundResult, error) {
	if it.Activation == "" || it.Person == "" || (it.Answer != ReplyAccept && it.Answer != ReplyDecline) {
		return InboundResult{Outcome: InboundRejected, Activation: it.Activation, Person: it.Person}, nil
	}
	// No such activation, one that never called anyone up (pending,
	// rejected), or no such recipient: unknown, audited.
	unknown := InboundResult{Outcome: InboundUnknown, Activation: it.Activation, Person: it.Person}
	at, err := acts.get(tx, it.Activation)
	if muster.IsCode(err, muster.ENotFound) {
		return unknown, nil
	} else if err != nil {
		return InboundResult{}, err
	}
	r, att, err := at.recipient(it.Person)
	if muster.IsCode(err, muster.ENotFound) {
		return unknown, nil
	} else if err != nil {
		return InboundResult{}, err
	}
	if at.a.Status != StatusActive || at.a.Retracts != "" {
		return InboundResult{Outcome: InboundNoCallUp, Activation: it.Activation, Person: it.Person, State: r.State, Language: r.Language}, nil
	}
	reply := Reply{Kind: it.Answer}
	if it.Answer == ReplyDecline {
		reply.Reason = truncateRunes(strings.TrimSpace(it.Body), MaxWebReason)
	}
	return recordAnswer(at, c, r, att, reply, webAnswerBody(reply.Kind, reply.Reason))
}

// truncateRunes keeps at most n characters of s.
func truncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
