package access

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/plans"
)

// SecretPrefix starts every token secret, so a leaked one is easy to spot
// and to search for.
const SecretPrefix = "mst_"

// Secret length bounds, prefix included. Generated secrets are 47
// characters; a bootstrap secret given by the operator must be at least 36.
const (
	minSecretLen = len(SecretPrefix) + 32
	maxSecretLen = 256
)

// Applier proposes a command to the cluster and waits for its result
// (cluster.Node).
type Applier interface {
	Apply(ctx context.Context, c *muster.Command, out any) error
}

// StateViewer reads the replicated state at a consistency level (cluster.Node).
// It is not called Viewer because that name is the viewer role.
type StateViewer interface {
	View(ctx context.Context, level muster.Consistency, fn func(tx *bolt.Tx) error) error
}

// ServiceActors are the names muster's own services write commands under
// (the audit trail's actor): no token may take one, or a person's acts
// would read as the service's (a drill run stood down by "scheduler" counts
// as one the scheduler ended on time).
var ServiceActors = []string{"scheduler", "escalator", "dispatcher", "cluster", "webhook", "warning-expiry", "import-janitor", "approval-notifier", "warning-prompter"}

// Identity is who a request comes from, as established by Authenticate.
type Identity struct {
	TokenID TokenID `json:"token_id"`
	Name    string  `json:"name"`
	Holder  string  `json:"holder"` // the person holding the token (Token.HeldBy)
	Role    Role    `json:"role"`
}

// Service issues, lists, revokes and checks tokens. It holds no state of its
// own: every answer comes from the replicated state, so a revoke takes effect
// on a node as soon as that node has applied it.
type Service struct {
	applier Applier
	viewer  StateViewer
	random  io.Reader
}

// NewService returns a Service that writes through a and reads through v
// (usually both the local cluster.Node).
func NewService(a Applier, v StateViewer) *Service {
	return &Service{applier: a, viewer: v, random: rand.Reader}
}

// NewSecret returns a fresh secret: SecretPrefix and 32 random bytes in
// unpadded base64url.
func (s *Service) NewSecret() (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.random, b[:]); err != nil {
		return "", fmt.Errorf("generate token secret: %w", err)
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// wellFormed reports whether secret could be one: the prefix, a plausible
// length, and only base64url or hex characters.
func wellFormed(secret string, minLen int) bool {
	if len(secret) < minLen || len(secret) > maxSecretLen || secret[:len(SecretPrefix)] != SecretPrefix {
		return false
	}
	for _, r := range secret[len(SecretPrefix):] {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

func (s *Service) propose(ctx context.Context, typ, actor string, payload, out any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	return s.applier.Apply(ctx, &muster.Command{Type: typ, Actor: actor, Payload: b}, out)
}

// NewToken is what a token is issued with.
type NewToken struct {
	Name   string // who or what uses it
	Holder string // the person it is issued to; empty: the name stands for them
	// Phone is the holder's mobile, in any form plans.NormalizePhone reads
	// (13800138000, +86 138 0013 8000); empty for none.
	Phone string
	Role  Role
	// ReuseName takes the name of a revoked token on purpose: without it
	// such a name is refused (rules 13), as the audit trail, which names
	// tokens by name, would read the new token's acts as the revoked one's.
	ReuseName bool
}

// Create issues a new token named name, held by holder (empty: the name
// stands for the holder), with role role on behalf of actor: CreateToken
// without a phone.
func (s *Service) Create(ctx context.Context, actor, name, holder string, role Role) (string, Token, error) {
	return s.CreateToken(ctx, actor, NewToken{Name: name, Holder: holder, Role: role})
}

// CreateToken issues a new token on behalf of actor. It returns the
// secret, which is shown this once and never stored, and the token record,
// its phone in E.164. Outcomes: invalid for a bad name, holder, phone (not
// a number, or a landline, which takes no SMS) or role, conflict when a
// token with that name exists, or a token revoked under rules 13 or later
// had it and req does not reuse it (ReuseName; the error says when it was
// revoked, by whom, and a free name), and the cluster's errors (unavailable,
// timeout) when the command could not be committed. While a member runs a
// muster before rules 9 the holder is not recorded (the token says none);
// while one runs a muster before rules 12 a token with a phone is refused
// (conflict: no token is left behind), as that member would keep none.
func (s *Service) CreateToken(ctx context.Context, actor string, req NewToken) (string, Token, error) {
	name := req.Name
	if err := validName(name); err != nil {
		return "", Token{}, err
	}
	if slices.Contains(ServiceActors, name) {
		return "", Token{}, muster.Errorf(muster.EInvalid, "token name %q: muster's own %s writes under that name in the audit trail; choose another", name, name)
	}
	if err := validHolder(req.Holder); err != nil {
		return "", Token{}, err
	}
	phone, err := tokenPhone(req.Phone)
	if err != nil {
		return "", Token{}, err
	}
	r, err := ParseRole(string(req.Role))
	if err != nil {
		return "", Token{}, err
	}
	secret, err := s.NewSecret()
	if err != nil {
		return "", Token{}, err
	}
	var t Token
	p := createPayload{Name: name, Holder: req.Holder, Phone: phone, Role: r, Hash: hex.EncodeToString(hashSecret(secret)), ReuseName: req.ReuseName}
	if err := s.propose(ctx, CmdTokenCreate, actor, p, &t); err != nil {
		return "", Token{}, fmt.Errorf("create token %q: %w", name, err)
	}
	if phone != "" && t.Phone == "" {
		// Applied under rules before 12: the token was made without the
		// phone. Its holder would count on a text that never comes.
		if err := s.Revoke(ctx, actor, t.ID); err != nil {
			return "", Token{}, fmt.Errorf("create token %q: a member of the cluster runs a muster before rules 12, which keeps no phone on a token, "+
				"so the token %s was made without it, and revoking it failed (revoke it by hand): %w", name, t.ID, err)
		}
		return "", Token{}, muster.Errorf(muster.EConflict, "create token %q: a member of the cluster runs a muster before rules 12, which keeps no phone on a token: "+
			"no token was made; create it without a phone, or again once every member runs rules 12 (muster cluster status shows each member's)", name)
	}
	return secret, t, nil
}

// tokenPhone normalises a token's phone to E.164 as the roster does
// (plans.NormalizePhone), refusing a landline: the phone is for texts.
func tokenPhone(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", nil
	}
	phone, err := plans.NormalizePhone(raw)
	if err != nil {
		return "", err
	}
	if plans.Landline(phone) {
		return "", muster.Errorf(muster.EInvalid, "phone %q is a landline, which takes no SMS: give the holder's mobile", raw)
	}
	return phone, nil
}

// List returns every token, in ID order, read at the given consistency.
// Secrets are never part of it.
func (s *Service) List(ctx context.Context, level muster.Consistency) ([]Token, error) {
	var out []Token
	err := s.viewer.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		out, err = ListTokens(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// Holders reads, at the given consistency, the token records that tell
// who held a token of a name when (Holders.At): the live tokens and those
// revoked under rules 13 and later.
func (s *Service) Holders(ctx context.Context, level muster.Consistency) (Holders, error) {
	var h Holders
	err := s.viewer.View(ctx, level, func(tx *bolt.Tx) error {
		var err error
		if h.live, err = ListTokens(tx); err != nil {
			return err
		}
		h.revoked, err = RevokedTokens(tx)
		return err
	})
	if err != nil {
		return Holders{}, fmt.Errorf("read token holders: %w", err)
	}
	return h, nil
}

// Revoke deletes token id on behalf of actor; the secret stops working on
// each node as soon as that node applies the revoke. Outcomes: not_found for
// an unknown id, conflict when it is the last admin token.
func (s *Service) Revoke(ctx context.Context, actor string, id TokenID) error {
	if err := s.propose(ctx, CmdTokenRevoke, actor, revokePayload{ID: id}, nil); err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	return nil
}

// Bootstrap creates the first admin token if, and only if, the cluster has
// no tokens at all, so it is safe to call at every start. With secret empty
// a new one is generated; a given secret (from MUSTER_BOOTSTRAP_TOKEN) must
// start with SecretPrefix and carry at least 32 base64url characters. It
// returns the secret and true when it created the token, "" and false when
// tokens already existed.
func (s *Service) Bootstrap(ctx context.Context, secret string) (string, bool, error) {
	if secret != "" && !wellFormed(secret, minSecretLen) {
		return "", false, muster.Errorf(muster.EInvalid, "bootstrap token: must be %q followed by at least 32 characters from A-Z a-z 0-9 - _", SecretPrefix)
	}
	// Most starts find tokens in the local state: no need for a log entry.
	var exists bool
	err := s.viewer.View(ctx, muster.Stale, func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(TokensBucket)); b != nil {
			k, _ := b.Cursor().First()
			exists = k != nil
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("bootstrap token: %w", err)
	}
	if exists {
		return "", false, nil
	}
	if secret == "" {
		if secret, err = s.NewSecret(); err != nil {
			return "", false, err
		}
	}
	var res bootstrapResult
	p := createPayload{Name: BootstrapTokenName, Role: Admin, Hash: hex.EncodeToString(hashSecret(secret))}
	if err := s.propose(ctx, CmdTokenBootstrap, "bootstrap", p, &res); err != nil {
		return "", false, fmt.Errorf("bootstrap token: %w", err)
	}
	if !res.Created {
		return "", false, nil
	}
	return secret, true, nil
}

// Authenticate returns the identity a secret stands for. It reads this
// node's state first and, only if the token is not there, once more at
// default consistency, so a token created a moment ago through another node
// works at once. Nothing is cached: a revoke is effective on a node as soon
// as the node applies it. For a request that changes the state (ForWrite)
// it reads at default consistency only, so that once a revoke has
// committed no node takes a write under the token, a follower that has
// not applied the revoke yet included. An unknown, revoked or malformed
// secret is unauthorized; a failed leader read is returned as it is
// (unavailable, timeout).
// writeKey marks the context of a request that changes the state (ForWrite).
type writeKey struct{}

// ForWrite marks ctx as that of a request that changes the state:
// Authenticate then looks the token up at default consistency only, not
// in this node's own state first, which on a follower may not have
// applied the token's revoke yet (exploratory finding A1: writes by a
// revoked commander committed through a follower 16 and 36 ms after the
// revoke).
func ForWrite(ctx context.Context) context.Context { return context.WithValue(ctx, writeKey{}, true) }

func forWrite(ctx context.Context) bool { w, _ := ctx.Value(writeKey{}).(bool); return w }

func (s *Service) Authenticate(ctx context.Context, secret string) (Identity, error) {
	if !wellFormed(secret, len(SecretPrefix)+1) {
		return Identity{}, muster.Errorf(muster.EUnauthorized, "malformed token: want %s followed by the secret", SecretPrefix)
	}
	hash := hashSecret(secret)
	levels := []muster.Consistency{muster.Stale, muster.Default}
	if forWrite(ctx) {
		levels = levels[1:]
	}
	for _, level := range levels {
		var (
			t     Token
			found bool
		)
		err := s.viewer.View(ctx, level, func(tx *bolt.Tx) error {
			var err error
			t, found, err = lookup(tx, hash)
			return err
		})
		if err != nil {
			return Identity{}, fmt.Errorf("check token: %w", err)
		}
		if found {
			return Identity{TokenID: t.ID, Name: t.Name, Holder: t.HeldBy(), Role: t.Role}, nil
		}
	}
	return Identity{}, muster.Errorf(muster.EUnauthorized, "unknown or revoked token")
}
