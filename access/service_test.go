package access_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"muster"
	"muster/access"
	"muster/cluster"
	"muster/cluster/clustertest"
	"muster/drills"
)

func register(_ int, n *cluster.Node) { access.Register(n) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func count(t *testing.T, svc *access.Service) int {
	t.Helper()
	toks, err := svc.List(testContext(t), muster.Default)
	require.NoError(t, err)
	return len(toks)
}

func assertCode(t *testing.T, code string, err error) {
	t.Helper()
	assert.True(t, muster.IsCode(err, code), "want %s, got %v", code, err)
}

func TestTokenLifecycleOnOneNode(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{Setup: register})
	n := c.Nodes[0].Node
	svc := access.NewService(n, n)
	ctx := testContext(t)

	_, err := svc.Authenticate(ctx, "mst_nothing-exists-yet")
	assertCode(t, muster.EUnauthorized, err)
	toks, err := svc.List(ctx, muster.Stale)
	require.NoError(t, err)
	assert.Empty(t, toks)

	root, created, err := svc.Bootstrap(ctx, "")
	require.NoError(t, err)
	require.True(t, created)
	assert.True(t, strings.HasPrefix(root, access.SecretPrefix))
	assert.Len(t, root, 47)

	// Bootstrapping again, with or without a secret, does nothing.
	again, created, err := svc.Bootstrap(ctx, "")
	require.NoError(t, err)
	assert.False(t, created)
	assert.Empty(t, again)
	_, created, err = svc.Bootstrap(ctx, "mst_0123456789abcdef0123456789abcdef")
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, 1, count(t, svc))

	admin, err := svc.Authenticate(ctx, root)
	require.NoError(t, err)
	assert.Equal(t, access.Admin, admin.Role)
	assert.Equal(t, access.BootstrapTokenName, admin.Name)

	secret, tok, err := svc.Create(ctx, admin.Name, "值班员-张三", "", access.Operator)
	require.NoError(t, err)
	assert.Equal(t, "值班员-张三", tok.Name)
	assert.Equal(t, access.Operator, tok.Role)
	assert.Equal(t, admin.Name, tok.CreatedBy)
	assert.Len(t, string(tok.ID), 16)
	assert.WithinDuration(t, time.Now(), tok.CreatedAt, time.Minute)
	assert.NotEqual(t, root, secret)

	op, err := svc.Authenticate(ctx, secret)
	require.NoError(t, err)
	assert.Equal(t, access.Identity{TokenID: tok.ID, Name: "值班员-张三", Holder: "值班员-张三", Role: access.Operator}, op, "issued without a holder: its name stands for one")

	// Rejected requests change nothing.
	rejected := []struct {
		name, token string
		role        access.Role
		code        string
	}{
		{"duplicate name", "值班员-张三", access.Viewer, muster.EConflict},
		{"unknown role", "x", access.Role("root"), muster.EInvalid},
		{"empty name", "", access.Viewer, muster.EInvalid},
		{"padded name", " x", access.Viewer, muster.EInvalid},
		{"control character", "a\nb", access.Viewer, muster.EInvalid},
		{"too long", strings.Repeat("长", 65), access.Viewer, muster.EInvalid},
	}
	for _, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := svc.Create(ctx, admin.Name, tt.token, "", tt.role)
			assertCode(t, tt.code, err)
		})
	}
	assert.Equal(t, 2, count(t, svc))

	for _, bad := range []string{"", "Bearer " + root, "mst_", root[4:], root + "!", strings.ToUpper(root[:4]) + root[4:]} {
		_, err := svc.Authenticate(ctx, bad)
		assertCode(t, muster.EUnauthorized, err)
	}

	assertCode(t, muster.ENotFound, svc.Revoke(ctx, admin.Name, "no-such-token"))
	require.NoError(t, svc.Revoke(ctx, admin.Name, tok.ID))
	_, err = svc.Authenticate(ctx, secret)
	assertCode(t, muster.EUnauthorized, err)
	assertCode(t, muster.ENotFound, svc.Revoke(ctx, admin.Name, tok.ID))

	// The last admin token cannot be revoked; with a second one it can.
	assertCode(t, muster.EConflict, svc.Revoke(ctx, admin.Name, admin.TokenID))
	second, _, err := svc.Create(ctx, admin.Name, "second admin", "", access.Admin)
	require.NoError(t, err)
	require.NoError(t, svc.Revoke(ctx, admin.Name, admin.TokenID))
	_, err = svc.Authenticate(ctx, root)
	assertCode(t, muster.EUnauthorized, err)
	_, err = svc.Authenticate(ctx, second)
	assert.NoError(t, err)

	toks, err = svc.List(ctx, muster.Linearizable)
	require.NoError(t, err)
	require.Len(t, toks, 1)
	assert.Equal(t, "second admin", toks[0].Name)

	// No secret ever reaches the state: only hashes do.
	var state bytes.Buffer
	_, err = n.FSM().Backup(&state)
	require.NoError(t, err)
	for _, s := range []string{root, secret, second} {
		assert.NotContains(t, state.String(), s[len(access.SecretPrefix):])
	}
}

func TestBootstrapWithGivenSecret(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{Setup: register})
	n := c.Nodes[0].Node
	svc := access.NewService(n, n)
	ctx := testContext(t)

	for _, bad := range []string{"mst_short", "0123456789abcdef0123456789abcdef0123", "mst_0123456789abcdef0123456789abcdef/"} {
		_, _, err := svc.Bootstrap(ctx, bad)
		assertCode(t, muster.EInvalid, err)
	}
	assert.Equal(t, 0, count(t, svc))

	given := "mst_0123456789abcdef0123456789abcdef"
	got, created, err := svc.Bootstrap(ctx, given)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, given, got)
	id, err := svc.Authenticate(ctx, given)
	require.NoError(t, err)
	assert.Equal(t, access.Admin, id.Role)
}

func TestBootstrapFromEveryNodeAtOnceCreatesOneToken(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{Setup: register})
	ctx := testContext(t)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		secrets []string
	)
	for _, m := range c.Nodes {
		svc := access.NewService(m.Node, m.Node)
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, created, err := svc.Bootstrap(ctx, "")
				assert.NoError(t, err)
				if created {
					mu.Lock()
					secrets = append(secrets, s)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	require.Len(t, secrets, 1, "exactly one bootstrap creates a token")
	for _, m := range c.Nodes {
		svc := access.NewService(m.Node, m.Node)
		assert.Equal(t, 1, count(t, svc))
		_, err := svc.Authenticate(ctx, secrets[0])
		assert.NoError(t, err, "through %s", m.Node.ID())
	}
}

func TestCreateThroughFollowerAuthenticateAnywhere(t *testing.T) {
	c := clustertest.New(t, 3, clustertest.Options{Setup: register})
	ctx := testContext(t)
	leader := c.Leader()
	require.NotNil(t, leader)
	followers := c.Followers()
	require.Len(t, followers, 2)
	svcOf := func(m *clustertest.Member) *access.Service { return access.NewService(m.Node, m.Node) }

	root, created, err := svcOf(followers[0]).Bootstrap(ctx, "")
	require.NoError(t, err)
	require.True(t, created)

	// Created through one follower, the token works at once through the
	// other follower and the leader, whether or not they have applied it.
	for i := range 5 {
		secret, tok, err := svcOf(followers[i%2]).Create(ctx, "test", "commander "+string(rune('a'+i)), "", access.Commander)
		require.NoError(t, err)
		for _, m := range []*clustertest.Member{followers[(i+1)%2], leader} {
			id, err := svcOf(m).Authenticate(ctx, secret)
			require.NoError(t, err, "through %s", m.Node.ID())
			assert.Equal(t, tok.ID, id.TokenID)
			assert.Equal(t, access.Commander, id.Role)
		}
	}
	_, err = svcOf(followers[1]).Authenticate(ctx, root)
	require.NoError(t, err)

	// A revoke through a follower reaches every node.
	secret, tok, err := svcOf(leader).Create(ctx, "test", "short-lived", "", access.Viewer)
	require.NoError(t, err)
	require.NoError(t, svcOf(followers[1]).Revoke(ctx, "test", tok.ID))
	c.WaitApplied(leader.Node.FSM().AppliedIndex(), 10*time.Second)
	for _, m := range c.Nodes {
		_, err := svcOf(m).Authenticate(ctx, secret)
		assertCode(t, muster.EUnauthorized, err)
	}
}

// A token records the person it is issued to, and a request made with it
// carries that person; a token issued without one is held by its name.
// Under rules 8 (a member runs an older muster) the holder is not recorded,
// as that member would not record it.
func TestATokenRecordsItsHolder(t *testing.T) {
	for _, rules := range []int{muster.Rules, 8} {
		c := clustertest.New(t, 1, clustertest.Options{Setup: register, Config: func(_ int, cfg *cluster.Config) { cfg.Rules = rules }})
		n := c.Nodes[0].Node
		svc := access.NewService(n, n)
		ctx := testContext(t)
		// Until the new node's member record is applied, its commands go
		// under rules 1.
		require.Eventually(t, func() bool { return n.Status().Rules == rules }, 10*time.Second, 10*time.Millisecond)

		secret, tok, err := svc.Create(ctx, "admin", "值班手机", "李四", access.Approver)
		require.NoError(t, err)
		who, err := svc.Authenticate(ctx, secret)
		require.NoError(t, err)
		if rules < 9 {
			assert.Empty(t, tok.Holder, "rules %d", rules)
			assert.Equal(t, "值班手机", who.Holder, "the name stands for the holder")
			continue
		}
		assert.Equal(t, "李四", tok.Holder)
		assert.Equal(t, "李四", who.Holder)
		assert.Equal(t, "值班手机", who.Name)

		secret, tok, err = svc.Create(ctx, "admin", "王五", "", access.Viewer)
		require.NoError(t, err)
		assert.Empty(t, tok.Holder)
		assert.Equal(t, "王五", tok.HeldBy())
		who, err = svc.Authenticate(ctx, secret)
		require.NoError(t, err)
		assert.Equal(t, "王五", who.Holder)

		for _, bad := range []string{" 李四", "a\x07b", strings.Repeat("长", 65)} {
			_, _, err = svc.Create(ctx, "admin", "bad holder", bad, access.Viewer)
			assertCode(t, muster.EInvalid, err)
			assert.Contains(t, err.Error(), "holder")
		}
	}
}

// A token may not take the name muster's own services write under: a
// person's stand-down as "scheduler" would read as the scheduler's.
func TestServiceNamesAreNotTokenNames(t *testing.T) {
	c := clustertest.New(t, 1, clustertest.Options{Setup: register})
	n := c.Nodes[0].Node
	svc := access.NewService(n, n)
	for _, name := range []string{"scheduler", "escalator", "dispatcher", drills.SchedulerActor} {
		_, _, err := svc.Create(testContext(t), "admin", name, "", access.Trainer)
		assertCode(t, muster.EInvalid, err)
		assert.Contains(t, err.Error(), "audit trail")
	}
	assert.Zero(t, count(t, svc))
}

// A token may carry its holder's mobile, normalised to E.164 as the roster
// reads phones; what is not a mobile number is refused, and the state
// machine takes nothing but E.164. Under rules 11 (a member runs an older
// muster, which keeps no phone on a token) a token with a phone is refused
// and none is left behind, and a token.create with a phone stores the
// token without it, as that member does.
func TestATokenRecordsItsHoldersPhone(t *testing.T) {
	for _, rules := range []int{muster.Rules, 11} {
		t.Run(fmt.Sprintf("rules %d", rules), func(t *testing.T) {
			// A probe command answers the rules it was stamped with: the
			// node's status can say the new rules a moment before the
			// leader stamps them (it reads the member record as soon as it
			// is committed, the leader once the commit's hooks have run).
			const probe = "test.rules"
			c := clustertest.New(t, 1, clustertest.Options{
				Setup: func(i int, n *cluster.Node) {
					register(i, n)
					n.Handle(probe, func(_ *bolt.Tx, c *muster.Command) (any, error) { return c.Rules, nil })
				},
				Config: func(_ int, cfg *cluster.Config) { cfg.Rules = rules },
			})
			n := c.Nodes[0].Node
			svc := access.NewService(n, n)
			ctx := testContext(t)
			require.Eventually(t, func() bool {
				var stamped int
				return n.Apply(ctx, &muster.Command{Type: probe}, &stamped) == nil && stamped == rules
			}, 10*time.Second, 10*time.Millisecond)

			req := access.NewToken{Name: "李四-手机", Holder: "李四", Phone: "139 0000 0002", Role: access.Approver}
			secret, tok, err := svc.CreateToken(ctx, "admin", req)
			if rules < 12 {
				assertCode(t, muster.EConflict, err)
				assert.Contains(t, err.Error(), "rules 12")
				assert.Zero(t, count(t, svc), "the token made without its phone was revoked")
				_, tok, err = svc.CreateToken(ctx, "admin", access.NewToken{Name: "李四-手机", Holder: "李四", Role: access.Approver})
				require.NoError(t, err, "without a phone it is made")
				assert.Empty(t, tok.Phone)

				// The command itself, with a phone, stores none.
				var raw access.Token
				payload := `{"name":"raw","role":"approver","phone":"+8613900000002","hash":"` + strings.Repeat("ab", 32) + `"}`
				require.NoError(t, n.Apply(ctx, &muster.Command{Type: access.CmdTokenCreate, Actor: "admin", Payload: []byte(payload)}, &raw))
				assert.Empty(t, raw.Phone)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "+8613900000002", tok.Phone)
			_, err = svc.Authenticate(ctx, secret)
			require.NoError(t, err)
			toks, err := svc.List(ctx, muster.Default)
			require.NoError(t, err)
			require.Len(t, toks, 1)
			assert.Equal(t, "+8613900000002", toks[0].Phone)

			for _, tt := range []struct{ phone, says string }{
				{"12345", "too few digits"},
				{"010-12345678", "landline"},
				{"not a phone", "not a phone number"},
			} {
				_, _, err := svc.CreateToken(ctx, "admin", access.NewToken{Name: "bad " + tt.phone, Phone: tt.phone, Role: access.Approver})
				assertCode(t, muster.EInvalid, err)
				assert.Contains(t, err.Error(), tt.says)
			}
			// The state machine checks the form: E.164 only.
			for _, phone := range []string{"13900000002", "+86 139 0000 0002", "+0123456789"} {
				payload := `{"name":"raw","role":"approver","phone":"` + phone + `","hash":"` + strings.Repeat("ab", 32) + `"}`
				err := n.Apply(ctx, &muster.Command{Type: access.CmdTokenCreate, Actor: "admin", Payload: []byte(payload)}, nil)
				assertCode(t, muster.EInvalid, err)
			}
			assert.Equal(t, 1, count(t, svc))
		})
	}
}
