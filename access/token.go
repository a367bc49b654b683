package access

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"muster"
)

// TokensBucket is the bbolt bucket holding tokens: the SHA-256 of the secret
// (32 raw bytes) → the Token as JSON. Backup tooling may read it; only the
// apply functions here write it.
const TokensBucket = "access_tokens"

// tokenIDsBucket indexes tokens by ID: TokenID → hash of the secret.
const tokenIDsBucket = "access_token_ids"

// revokedBucket keeps the tokens revoked under rules 13 and later
// (rulesRevokedNames): token name → the revoked tokens of that name
// ([]RevokedToken as JSON), oldest first. Only the apply functions here
// write it.
const revokedBucket = "access_revoked"

// rulesRevokedNames is the behaviour (muster.Rules) from which a revoke
// keeps the revoked token (RevokedToken), and token.create refuses a name
// a revoked token had unless the request reuses it on purpose
// (reuse_name). Tokens revoked under earlier rules were deleted without a
// trace: their names are free.
const rulesRevokedNames = 13

// Command types owned by access.
const (
	CmdTokenCreate    = "token.create"
	CmdTokenRevoke    = "token.revoke"
	CmdTokenBootstrap = "token.bootstrap"
)

// BootstrapTokenName is the name of the first admin token.
const BootstrapTokenName = "bootstrap-admin"

// maxNameLen bounds a token name in characters.
const maxNameLen = 64

// TokenID identifies a token. It is not secret: it appears in lists, logs
// and the audit trail, and is what revoking takes.
type TokenID string

// Token is what the state records about a bearer token. The secret itself is
// never stored or replicated, only its SHA-256.
type Token struct {
	ID   TokenID `json:"id"`
	Name string  `json:"name"`
	// Holder is the person the token was issued to. A person may hold
	// several tokens (a desk and a phone); where two people are required (a
	// level I–II approval) tokens of one holder count as one person. Empty
	// on a token issued without one: its name stands for its holder (HeldBy).
	Holder string `json:"holder,omitempty"`
	// Phone is the holder's mobile in E.164, if given (rules 12): a token
	// of the approver or commander role with one is texted when a level
	// I–II LIVE request waits for approval.
	Phone     string    `json:"phone,omitempty"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	// Makers is the lineage of the token that made this one (CreatedBy),
	// nearest first, as it was when this one was made (rules 13): it
	// keeps who made it even after those tokens are revoked. Empty on a
	// token made before (LineageOf follows CreatedBy instead).
	Makers Lineage `json:"makers,omitempty"`
}

// RevokedToken is a token as it was when it was revoked (rules 13), with
// when and by whom: its name stays taken (token.create refuses it unless
// reuse_name), and who held it stays known to audit readers.
type RevokedToken struct {
	Token
	RevokedAt time.Time `json:"revoked_at"`
	RevokedBy string    `json:"revoked_by"`
}

// HeldBy is the person who holds t: its Holder, or its name when it was
// issued without one.
func (t Token) HeldBy() string {
	if t.Holder != "" {
		return t.Holder
	}
	return t.Name
}

// HolderOf is the person who holds the token named name, as the state has
// it; the name itself when no such token exists (any more). Apply code
// reads it to tell people apart.
func HolderOf(tx *bolt.Tx, name string) (string, error) {
	b := tx.Bucket([]byte(TokensBucket))
	if b == nil {
		return name, nil
	}
	holder := name
	err := b.ForEach(func(_, v []byte) error {
		var t Token
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("decode token: %w", err)
		}
		if t.Name == name {
			holder = t.HeldBy()
		}
		return nil
	})
	return holder, err
}

// createPayload is the payload of token.create and token.bootstrap.
type createPayload struct {
	Name   string `json:"name"`
	Holder string `json:"holder,omitempty"` // applied under rules 9 and later
	Phone  string `json:"phone,omitempty"`  // E.164; applied under rules 12 and later (rulesTokenPhone)
	Role   Role   `json:"role"`
	Hash   string `json:"hash"` // hex SHA-256 of the secret
	// ReuseName takes the name of a revoked token on purpose
	// (rulesRevokedNames); without it such a name is refused.
	ReuseName bool `json:"reuse_name,omitempty"`
}

// revokePayload is the payload of token.revoke.
type revokePayload struct {
	ID TokenID `json:"id"`
}

// bootstrapResult is the outcome of token.bootstrap: Created is false, and
// Token empty, when tokens already existed.
type bootstrapResult struct {
	Created bool  `json:"created"`
	Token   Token `json:"token"`
}

// Register installs the access commands in the FSM.
func Register(r interface {
	Handle(cmdType string, fn muster.ApplyFunc)
}) {
	r.Handle(CmdTokenCreate, applyCreate)
	r.Handle(CmdTokenRevoke, applyRevoke)
	r.Handle(CmdTokenBootstrap, applyBootstrap)
}

// hashSecret is the key a secret's token is stored under.
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// validName checks a token name: 1–64 characters, no control characters.
func validName(name string) error { return validLabel("token name", name) }

// validHolder checks a token's holder as a name, when one is given.
func validHolder(holder string) error {
	if holder == "" {
		return nil
	}
	return validLabel("holder", holder)
}

func validLabel(what, name string) error {
	if strings.TrimSpace(name) != name || name == "" {
		return muster.Errorf(muster.EInvalid, "%s %q: must be non-empty without leading or trailing spaces", what, name)
	}
	if n := utf8.RuneCountInString(name); n > maxNameLen {
		return muster.Errorf(muster.EInvalid, "%s: %d characters, at most %d allowed", what, n, maxNameLen)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return muster.Errorf(muster.EInvalid, "%s %q: control characters and invalid UTF-8 are not allowed", what, name)
		}
	}
	return nil
}

func decodeCreate(c *muster.Command) (createPayload, []byte, error) {
	var p createPayload
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return p, nil, muster.Errorf(muster.EInvalid, "%s: payload: %v", c.Type, err)
	}
	if err := validName(p.Name); err != nil {
		return p, nil, err
	}
	if !p.Role.Valid() || (p.Role == Feed && !c.RulesAtLeast(rulesFeedRole)) {
		return p, nil, muster.Errorf(muster.EInvalid, "%s: unknown role %q", c.Type, p.Role)
	}
	hash, err := hex.DecodeString(p.Hash)
	if err != nil || len(hash) != sha256.Size {
		return p, nil, muster.Errorf(muster.EInvalid, "%s: hash must be a hex SHA-256", c.Type)
	}
	return p, hash, nil
}

// rulesFeedRole is the behaviour (muster.Rules) from which a token of the
// feed role can be made; an older muster knows no such role.
const rulesFeedRole = 11

// rulesTokenPhone is the behaviour (muster.Rules) from which a token
// records its holder's phone. An older muster decodes token.create without
// it and stores none, so under older rules the phone is left out here too:
// every member stores the same token (Service.CreateToken refuses such a
// request for the person who made it).
const rulesTokenPhone = 12

// validE164 checks a token's phone as the state machine may: empty, or "+"
// and 7 to 15 digits, the first not 0. Which numbers exist is judged before
// proposing (plans.NormalizePhone), never here: two releases of the
// numbering data could judge a number apart.
func validE164(phone string) error {
	if phone == "" {
		return nil
	}
	ok := len(phone) >= 8 && len(phone) <= 16 && phone[0] == '+' && phone[1] != '0'
	for i := 1; ok && i < len(phone); i++ {
		ok = phone[i] >= '0' && phone[i] <= '9'
	}
	if !ok {
		return muster.Errorf(muster.EInvalid, "phone %q: want E.164, such as +8613800138000", phone)
	}
	return nil
}

// tokenID derives a token's ID from the command's leader-stamped ID, so
// every node derives the same one.
func tokenID(c *muster.Command) (TokenID, error) {
	if len(c.ID) < 8 {
		return "", muster.Errorf(muster.EInternal, "%s: command carries no id", c.Type)
	}
	id := c.ID
	if len(id) > 16 {
		id = id[:16]
	}
	return TokenID(id), nil
}

// insert writes a new token, rejecting a duplicate secret, name or ID.
func insert(tx *bolt.Tx, c *muster.Command, p createPayload, hash []byte) (Token, error) {
	id, err := tokenID(c)
	if err != nil {
		return Token{}, err
	}
	toks, err := tx.CreateBucketIfNotExists([]byte(TokensBucket))
	if err != nil {
		return Token{}, err
	}
	ids, err := tx.CreateBucketIfNotExists([]byte(tokenIDsBucket))
	if err != nil {
		return Token{}, err
	}
	if toks.Get(hash) != nil {
		return Token{}, muster.Errorf(muster.EConflict, "a token with this secret already exists")
	}
	if ids.Get([]byte(id)) != nil {
		return Token{}, muster.Errorf(muster.EConflict, "token id %s is taken; try again", id)
	}
	taken := map[string]bool{}
	err = toks.ForEach(func(_, v []byte) error {
		var t Token
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("decode token: %w", err)
		}
		if t.Name == p.Name {
			return muster.Errorf(muster.EConflict, "a token named %q already exists (id %s)", p.Name, t.ID)
		}
		taken[t.Name] = true
		return nil
	})
	if err != nil {
		return Token{}, err
	}
	if c.Type == CmdTokenCreate && c.RulesAtLeast(rulesRevokedNames) && !p.ReuseName {
		if err := nameNotRevoked(tx, p.Name, taken); err != nil {
			return Token{}, err
		}
	}
	t := Token{ID: id, Name: p.Name, Role: p.Role, CreatedAt: c.Time, CreatedBy: c.Actor}
	if c.Rules >= 9 { // a muster before rules 9 knows no holder and stores none
		if err := validHolder(p.Holder); err != nil {
			return Token{}, err
		}
		t.Holder = p.Holder
	}
	if c.RulesAtLeast(rulesTokenPhone) {
		if err := validE164(p.Phone); err != nil {
			return Token{}, err
		}
		t.Phone = p.Phone
	}
	if c.RulesAtLeast(rulesLineage) {
		live, err := ListTokens(tx)
		if err != nil {
			return Token{}, err
		}
		t.Makers = LineageOf(live, c.Actor)
	}
	v, err := json.Marshal(t)
	if err != nil {
		return Token{}, err
	}
	if err := toks.Put(hash, v); err != nil {
		return Token{}, err
	}
	if err := ids.Put([]byte(id), hash); err != nil {
		return Token{}, err
	}
	return t, nil
}

func applyCreate(tx *bolt.Tx, c *muster.Command) (any, error) {
	p, hash, err := decodeCreate(c)
	if err != nil {
		return nil, err
	}
	return insert(tx, c, p, hash)
}

func applyBootstrap(tx *bolt.Tx, c *muster.Command) (any, error) {
	p, hash, err := decodeCreate(c)
	if err != nil {
		return nil, err
	}
	if p.Role != Admin {
		return nil, muster.Errorf(muster.EInvalid, "%s: the first token must be an admin token", c.Type)
	}
	if b := tx.Bucket([]byte(TokensBucket)); b != nil {
		if k, _ := b.Cursor().First(); k != nil {
			return bootstrapResult{}, nil
		}
	}
	t, err := insert(tx, c, p, hash)
	if err != nil {
		return nil, err
	}
	return bootstrapResult{Created: true, Token: t}, nil
}

func applyRevoke(tx *bolt.Tx, c *muster.Command) (any, error) {
	var p revokePayload
	if err := json.Unmarshal(c.Payload, &p); err != nil {
		return nil, muster.Errorf(muster.EInvalid, "%s: payload: %v", c.Type, err)
	}
	toks, ids := tx.Bucket([]byte(TokensBucket)), tx.Bucket([]byte(tokenIDsBucket))
	if toks == nil || ids == nil {
		return nil, muster.Errorf(muster.ENotFound, "no token with id %q", p.ID)
	}
	hash := ids.Get([]byte(p.ID))
	if hash == nil {
		return nil, muster.Errorf(muster.ENotFound, "no token with id %q", p.ID)
	}
	hash = bytes.Clone(hash)
	var t Token
	if err := json.Unmarshal(toks.Get(hash), &t); err != nil {
		return nil, fmt.Errorf("%s: decode token %s: %w", c.Type, p.ID, err)
	}
	if t.Role == Admin {
		admins := 0
		err := toks.ForEach(func(_, v []byte) error {
			var o Token
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("decode token: %w", err)
			}
			if o.Role == Admin {
				admins++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if admins <= 1 {
			return nil, muster.Errorf(muster.EConflict, "token %s (%s) is the last admin token; create another admin token before revoking it", t.ID, t.Name)
		}
	}
	if err := toks.Delete(hash); err != nil {
		return nil, err
	}
	if err := ids.Delete([]byte(p.ID)); err != nil {
		return nil, err
	}
	if c.RulesAtLeast(rulesRevokedNames) {
		if err := keepRevoked(tx, RevokedToken{Token: t, RevokedAt: c.Time.UTC(), RevokedBy: c.Actor}); err != nil {
			return nil, fmt.Errorf("%s: keep token %s: %w", c.Type, p.ID, err)
		}
	}
	return t, nil
}

// keepRevoked records r, just revoked, after the tokens of its name
// revoked before it.
func keepRevoked(tx *bolt.Tx, r RevokedToken) error {
	b, err := tx.CreateBucketIfNotExists([]byte(revokedBucket))
	if err != nil {
		return err
	}
	var gone []RevokedToken
	if v := b.Get([]byte(r.Name)); v != nil {
		if err := json.Unmarshal(v, &gone); err != nil {
			return fmt.Errorf("decode revoked tokens named %q: %w", r.Name, err)
		}
	}
	v, err := json.Marshal(append(gone, r))
	if err != nil {
		return err
	}
	return b.Put([]byte(r.Name), v)
}

// nameNotRevoked refuses (conflict) name when a revoked token had it,
// naming the last such token, when and by whom it was revoked, and a name
// neither a token of taken (the live tokens' names) nor a revoked one has.
func nameNotRevoked(tx *bolt.Tx, name string, taken map[string]bool) error {
	b := tx.Bucket([]byte(revokedBucket))
	if b == nil {
		return nil
	}
	v := b.Get([]byte(name))
	if v == nil {
		return nil
	}
	var gone []RevokedToken
	if err := json.Unmarshal(v, &gone); err != nil || len(gone) == 0 {
		return fmt.Errorf("decode revoked tokens named %q: %v", name, err)
	}
	last := gone[len(gone)-1]
	instead := ""
	for i := 2; i < 100; i++ {
		n := fmt.Sprintf("%s-%d", name, i)
		if utf8.RuneCountInString(n) > maxNameLen {
			break
		}
		if !taken[n] && b.Get([]byte(n)) == nil {
			instead = fmt.Sprintf(" (%q is free)", n)
			break
		}
	}
	return muster.Errorf(muster.EConflict, "token name %q was the name of the token %s held by %s, revoked at %s by %s: "+
		"the audit trail names tokens by name, so a new token of that name would read as the revoked one; "+
		"choose another name%s, or reuse it on purpose (muster token create --reuse-name; reuse_name in the API)",
		name, last.ID, last.HeldBy(), last.RevokedAt.UTC().Format(time.RFC3339), last.RevokedBy, instead)
}

// RevokedTokens returns the tokens revoked under rules 13 and later
// (rulesRevokedNames), by name, and each name's oldest first. Apply code
// may read it.
func RevokedTokens(tx *bolt.Tx) ([]RevokedToken, error) {
	out := []RevokedToken{}
	b := tx.Bucket([]byte(revokedBucket))
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		var gone []RevokedToken
		if err := json.Unmarshal(v, &gone); err != nil {
			return fmt.Errorf("decode revoked tokens named %q: %w", k, err)
		}
		out = append(out, gone...)
		return nil
	})
	return out, err
}

// lookup finds the token stored under hash; an absent bucket is no tokens.
func lookup(tx *bolt.Tx, hash []byte) (Token, bool, error) {
	b := tx.Bucket([]byte(TokensBucket))
	if b == nil {
		return Token{}, false, nil
	}
	v := b.Get(hash)
	if v == nil {
		return Token{}, false, nil
	}
	var t Token
	if err := json.Unmarshal(v, &t); err != nil {
		return Token{}, false, fmt.Errorf("decode token: %w", err)
	}
	return t, true, nil
}

// ListTokens returns every token in tx, in ID order. Apply code may read
// it: the order is the state's, the same on every node.
func ListTokens(tx *bolt.Tx) ([]Token, error) {
	toks, ids := tx.Bucket([]byte(TokensBucket)), tx.Bucket([]byte(tokenIDsBucket))
	out := []Token{}
	if toks == nil || ids == nil {
		return out, nil
	}
	err := ids.ForEach(func(id, hash []byte) error {
		var t Token
		if err := json.Unmarshal(toks.Get(hash), &t); err != nil {
			return fmt.Errorf("decode token %s: %w", id, err)
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// Holders tells who held a token of a name at a time, from the token
// records as the state has them: the live tokens and the tokens revoked
// under rules 13 and later (RevokedToken). It reads nothing of the audit
// chain, which keeps only the token's name (the actor).
type Holders struct {
	live    []Token
	revoked []RevokedToken
}

// NewHolders is the Holders of live tokens and revoked ones.
func NewHolders(live []Token, revoked []RevokedToken) Holders {
	return Holders{live: live, revoked: revoked}
}

// At is the person who held the token named name at time at (HeldBy):
// the one of that name made at or before at and live then (not revoked
// yet, or revoked at at: the revoke's own entry), the newest if several.
// ok is false when no record tells: no token had the name then as far as
// the state knows (a token revoked before rules 13, a name muster's own
// services write under, the process that made the first admin token).
func (h Holders) At(name string, at time.Time) (holder string, ok bool) {
	var made time.Time
	take := func(t Token, revokedAt time.Time) {
		if t.Name != name || t.CreatedAt.After(at) || (!revokedAt.IsZero() && revokedAt.Before(at)) {
			return
		}
		if !ok || t.CreatedAt.After(made) {
			holder, made, ok = t.HeldBy(), t.CreatedAt, true
		}
	}
	for _, t := range h.live {
		take(t, time.Time{})
	}
	for _, r := range h.revoked {
		take(r.Token, r.RevokedAt)
	}
	return holder, ok
}
