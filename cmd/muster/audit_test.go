package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster"
	"muster/api"
	"muster/cluster"
)

// muster audit list shows who did what on a real dev node, and muster
// audit verify checks its chain and prints the head.
func TestAuditListAndVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	require.GreaterOrEqual(t, muster.Rules, cluster.AuditRules, "this muster keeps the audit chain")
	_, _, env := statusDev(t)
	r := runCLI(t, env, "activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "exercise", "--reason", "防汛通讯演练", "--yes", "-o", "json")
	require.Zero(t, r.code, r.stderr)

	r = runCLI(t, env, "audit", "list", "--all")
	require.Zero(t, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	assert.Equal(t, []string{"SEQ", "INDEX", "TIME", "COMMAND", "BY", "HOLDER"}, strings.Fields(lines[0]))
	var created []string
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 && f[len(f)-3] == "activation.create" {
			created = append(created, l)
		}
	}
	require.Len(t, created, 1, r.stdout)
	f := strings.Fields(created[0])
	assert.Equal(t, []string{"bootstrap-admin", "-"}, f[len(f)-2:], "held by the token's name")

	r = runCLI(t, env, "audit", "list", "--limit", "1000", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var page api.AuditPage
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &page))
	require.NotEmpty(t, page.Items)
	_, err := cluster.VerifyAudit(cluster.AuditHead{}, page.Items)
	assert.NoError(t, err)

	// The leader's services may still write (results of the exercise's
	// sends): verify reads a chain that can grow while it reads, and says so.
	require.Eventually(t, func() bool {
		r = runCLI(t, env, "audit", "verify")
		require.Zero(t, r.code, r.stderr)
		return strings.Contains(r.stdout, "entries, intact\nhead: entry ")
	}, 30*time.Second, 200*time.Millisecond, "verify: %s", r.stdout)
	assert.Regexp(t, `^audit chain of the node at http://\S+: \d+ entries, intact\nhead: entry \d+ \(raft index \d+\) [0-9a-f]{64}\n$`, r.stdout)
}

// verify names the entry where a chain was changed, and exits 1.
func TestAuditVerifyFindsAChangedEntry(t *testing.T) {
	chain := auditChain(4, 0)
	prev := chain[3].Hash
	head := cluster.AuditHead{Seq: 4, Index: 13, Hash: prev}
	out := mustRunOnFake(t, fakeAPI{"GET /api/v1/audit": api.AuditPage{Items: chain, Head: head}}, "audit", "verify")
	assert.Contains(t, out, "4 entries, intact\nhead: entry 4 (raft index 13) "+prev)

	changed := append([]cluster.AuditEntry(nil), chain...)
	changed[2].Actor = "值班员"
	_, _, err := runOnFake(t, fakeAPI{"GET /api/v1/audit": api.AuditPage{Items: changed, Head: head}}, "audit", "verify")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is broken after 2 good entries: audit entry 3 (token.create by 值班员 at 2026-12-06T08:00:02Z) was changed")

	// The last entry taken out, the head left: the head no longer matches.
	_, _, err = runOnFake(t, fakeAPI{"GET /api/v1/audit": api.AuditPage{Items: chain[:3], Head: head}}, "audit", "verify")
	require.NoError(t, err, "a head further on is a chain that grew while it was read")
	_, _, err = runOnFake(t, fakeAPI{"GET /api/v1/audit": api.AuditPage{Items: chain[:3], Head: cluster.AuditHead{Seq: 3, Index: 12, Hash: prev}}}, "audit", "verify")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "its head says entry 3 with hash "+prev)
}

// readExport reads an export, one entry a line.
func readExport(t *testing.T, path string) []cluster.AuditEntry {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []cluster.AuditEntry
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var e cluster.AuditEntry
		require.NoError(t, json.Unmarshal([]byte(l), &e), "line %q", l)
		out = append(out, e)
	}
	return out
}

// writeExport writes entries as an export, one a line.
func writeExport(t *testing.T, path string, entries []cluster.AuditEntry) {
	t.Helper()
	var b strings.Builder
	for _, e := range entries {
		raw, err := json.Marshal(e)
		require.NoError(t, err)
		b.Write(raw)
		b.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
}

// On a real dev node: the chain is exported to a file, the file verified
// offline (a changed line is named), a cut with a file that is not the
// chain's refused, and a cut with the export takes the entries it holds,
// in bounded requests; the node's chain then starts from the checkpoint,
// which verify and list show, and a second export goes on from it.
func TestAuditExportVerifyAndCut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	require.GreaterOrEqual(t, muster.Rules, cluster.AuditCutRules, "this muster cuts the audit chain")
	_, _, env := statusDev(t)
	dir := t.TempDir()
	r := runCLI(t, env, "activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "exercise", "--reason", "防汛通讯演练", "--yes", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	for i := range 5 {
		r = runCLI(t, env, "token", "create", "--role", "viewer", "--name", fmt.Sprintf("大屏%d", i), "-o", "json")
		require.Zero(t, r.code, r.stderr)
	}

	// Export, a page of one entry a request: progress on stderr.
	export := filepath.Join(dir, "audit-1.jsonl")
	r = runCLI(t, env, "audit", "export", "--out", export, "--page", "1")
	require.Zero(t, r.code, r.stderr)
	entries := readExport(t, export)
	require.Greater(t, len(entries), 11)
	last := entries[len(entries)-1]
	assert.Equal(t, uint64(1), entries[0].Seq)
	assert.Contains(t, r.stderr, "exported 10 entries, up to entry 10 of ")
	assert.Contains(t, r.stdout, fmt.Sprintf("exported entries 1 to %d (%d entries, ", last.Seq, len(entries)))
	assert.Contains(t, r.stdout, fmt.Sprintf("last: entry %d (raft index %d) %s\n", last.Seq, last.Index, last.Hash))
	r = runCLI(t, env, "audit", "export", "--out", export)
	oneLineError(t, r, 1, "audit-1.jsonl exists: give another file, or --force to replace it")
	assert.Len(t, readExport(t, export), len(entries), "the file is left as it was")

	r = runCLI(t, env, "audit", "verify", "--file", export)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, fmt.Sprintf("%s: %d entries, intact: entries 1 to %d\nlast: entry %d (raft index %d) %s\n", export, len(entries), last.Seq, last.Seq, last.Index, last.Hash), r.stdout)

	// A changed line, a line taken out, a line that is no entry: named.
	bad := filepath.Join(dir, "bad.jsonl")
	changed := append([]cluster.AuditEntry(nil), entries...)
	changed[2].Actor = "值班员"
	writeExport(t, bad, changed)
	r = runCLI(t, env, "audit", "verify", "--file", bad)
	oneLineError(t, r, 1, "bad.jsonl line 3, after 2 good entries: audit entry 3 ("+changed[2].Type+" by 值班员 at ")
	assert.Contains(t, r.stderr, "was changed")
	writeExport(t, bad, append(append([]cluster.AuditEntry(nil), entries[:4]...), entries[5:]...))
	r = runCLI(t, env, "audit", "verify", "--file", bad)
	oneLineError(t, r, 1, "bad.jsonl line 5, after 4 good entries: audit entry 6 ")
	raw, err := os.ReadFile(export)
	require.NoError(t, err)
	lines := strings.SplitAfter(string(raw), "\n")
	lines[6] = lines[6][:len(lines[6])/2] + "\n"
	require.NoError(t, os.WriteFile(bad, []byte(strings.Join(lines, "")), 0o644))
	r = runCLI(t, env, "audit", "verify", "--file", bad)
	oneLineError(t, r, 1, "bad.jsonl line 7 is not an audit entry")

	// A file that verifies but is not the chain's (an entry changed and
	// every entry after it hashed again): the cut is refused, nothing cut.
	forged := append([]cluster.AuditEntry(nil), entries...)
	forged[3].Actor = "值班员"
	for i := 3; i < len(forged); i++ {
		if i > 3 {
			forged[i].Prev = forged[i-1].Hash
		}
		forged[i].Hash = forged[i].Sum()
	}
	writeExport(t, bad, forged)
	r = runCLI(t, env, "audit", "verify", "--file", bad)
	require.Zero(t, r.code, "a forged file verifies by itself: %s", r.stderr)
	r = runCLI(t, env, "audit", "cut", "--through-file", bad, "--reason", "archived")
	oneLineError(t, r, 1, fmt.Sprintf("the audit chain's entry %d has hash %s", last.Seq, last.Hash[:12]))
	assert.Contains(t, r.stderr, "nothing was cut")
	r = runCLI(t, env, "audit", "list", "--limit", "1", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var page api.AuditPage
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &page))
	require.NotEmpty(t, page.Items)
	assert.Equal(t, uint64(1), page.Items[0].Seq, "nothing was cut")
	assert.Zero(t, page.Head.Checkpoint)
	r = runCLI(t, env, "audit", "cut", "--through-file", changed2(t, dir, entries), "--reason", "archived")
	oneLineError(t, r, 1, "nothing was cut: ")

	// The cut, three entries a request.
	r = runCLI(t, env, "audit", "cut", "--through-file", export, "--reason", "归档至 NAS /audit/2026", "--batch", "3")
	require.Zero(t, r.code, r.stderr)
	requests := (len(entries) + 2) / 3
	assert.Contains(t, r.stderr, "cut 3 entries, up to entry 3; ")
	assert.Equal(t, requests-1, strings.Count(r.stderr, "\n"), "progress after every request but the last: %s", r.stderr)
	cpLine := fmt.Sprintf("entries before %d were cut on ", last.Seq+1)
	cpEnd := fmt.Sprintf(" by bootstrap-admin (归档至 NAS /audit/2026); the chain starts from hash %s\n", last.Hash)
	assert.Contains(t, r.stdout, fmt.Sprintf("cut %d entries, up to entry %d, in %d requests\n%s", len(entries), last.Seq, requests, cpLine))
	assert.True(t, strings.HasSuffix(r.stdout, cpEnd), r.stdout)

	r = runCLI(t, env, "audit", "cut", "--through-file", export, "--reason", "again")
	oneLineError(t, r, 1, fmt.Sprintf("the audit chain was cut through entry %d already", last.Seq))

	// The node's chain starts from the checkpoint: verify checks it from
	// there, list names it.
	require.Eventually(t, func() bool {
		r = runCLI(t, env, "audit", "verify")
		require.Zero(t, r.code, r.stderr)
		return strings.Contains(r.stdout, "intact\nhead: entry ")
	}, 30*time.Second, 200*time.Millisecond, "verify: %s", r.stdout)
	assert.True(t, strings.HasPrefix(r.stdout, cpLine), r.stdout)
	assert.Contains(t, r.stdout, cpEnd)
	assert.Contains(t, r.stdout, fmt.Sprintf(" entries from entry %d, intact\n", last.Seq+1))
	r = runCLI(t, env, "audit", "list", "--all")
	require.Zero(t, r.code, r.stderr)
	listed := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Greater(t, len(listed), 2, r.stdout)
	assert.True(t, strings.HasPrefix(listed[0], cpLine), listed[0])
	assert.Equal(t, []string{"SEQ", "INDEX", "TIME", "COMMAND", "BY", "HOLDER"}, strings.Fields(listed[1]))
	assert.Equal(t, fmt.Sprint(last.Seq+1), strings.Fields(listed[2])[0])
	assert.Contains(t, r.stdout, "audit.cut")

	// The next export starts after the checkpoint and names its hash.
	next := filepath.Join(dir, "audit-2.jsonl")
	r = runCLI(t, env, "audit", "export", "--out", next)
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("exported entries %d to ", last.Seq+1))
	assert.Contains(t, r.stdout, cpLine)
	later := readExport(t, next)
	assert.Equal(t, last.Hash, later[0].Prev)
	r = runCLI(t, env, "audit", "verify", "--file", next)
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, fmt.Sprintf("first: entry %d follows hash %s (", last.Seq+1, last.Hash))
}

// changed2 writes an export whose second line was changed, and returns
// its path: cut checks the file first.
func changed2(t *testing.T, dir string, entries []cluster.AuditEntry) string {
	t.Helper()
	path := filepath.Join(dir, "changed.jsonl")
	c := append([]cluster.AuditEntry(nil), entries...)
	c[1].Type = "token.revoke"
	writeExport(t, path, c)
	return path
}

// verify checks a cut chain from its checkpoint and prints it; a chain
// that does not go on from the checkpoint's hash is broken at its first
// entry.
func TestAuditVerifyStartsFromTheCheckpoint(t *testing.T) {
	chain := auditChain(5, 0)
	prev := chain[4].Hash
	cp := cluster.AuditCheckpoint{Seq: 2, Hash: chain[1].Hash, Time: time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC), Actor: "auditor", Reason: "archived"}
	head := cluster.AuditHead{Seq: 5, Index: 14, Hash: prev, Checkpoint: cp}
	out := mustRunOnFake(t, fakeAPI{"GET /api/v1/audit": api.AuditPage{Items: chain[2:], Head: head}}, "audit", "verify")
	assert.True(t, strings.HasPrefix(out, "entries before 3 were cut on 2026-12-06T09:30:00Z by auditor (archived); the chain starts from hash "+chain[1].Hash+"\n"), out)
	assert.Contains(t, out, ": 3 entries from entry 3, intact\nhead: entry 5 (raft index 14) "+prev+"\n")

	head.Checkpoint.Hash = chain[0].Hash
	_, _, err := runOnFake(t, fakeAPI{"GET /api/v1/audit": api.AuditPage{Items: chain[2:], Head: head}}, "audit", "verify")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is broken after 0 good entries: audit entry 3 (token.create by bootstrap-admin at 2026-12-06T08:00:02Z) names ")

	out = mustRunOnFake(t, fakeAPI{"GET /api/v1/audit": api.AuditPage{Items: chain[2:], Head: cluster.AuditHead{Seq: 5, Index: 14, Hash: prev, Checkpoint: cp}}}, "audit", "list")
	assert.True(t, strings.HasPrefix(out, "entries before 3 were cut on 2026-12-06T09:30:00Z by auditor (archived); the chain starts from hash "), out)
}

// export keeps an existing file unless --force, and writes one entry a
// line, as the API gave it, which verify --file checks offline.
func TestAuditExportKeepsAnExistingFile(t *testing.T) {
	chain := make([]cluster.AuditEntry, 3)
	prev := ""
	for i := range chain {
		e := cluster.AuditEntry{Seq: uint64(i + 1), Index: uint64(10 + i), ID: "c" + string(rune('a'+i)), Type: "plan.put", Actor: "值班员",
			Time: time.Date(2026, 12, 6, 8, 0, i, 0, time.UTC), Rules: 13, Payload: strings.Repeat("0", 64), Prev: prev}
		e.Hash = e.Sum()
		chain[i], prev = e, e.Hash
	}
	fake := fakeAPI{"GET /api/v1/audit": api.AuditPage{Items: chain, Head: cluster.AuditHead{Seq: 3, Index: 12, Hash: prev}}}
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	require.NoError(t, os.WriteFile(file, []byte("last year's\n"), 0o644))

	_, _, err := runOnFake(t, fake, "audit", "export", "--out", file)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "audit.jsonl exists: give another file, or --force to replace it")
	kept, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "last year's\n", string(kept))

	out := mustRunOnFake(t, fake, "audit", "export", "--out", file, "--force")
	assert.Contains(t, out, "exported entries 1 to 3 (3 entries, ")
	assert.Contains(t, out, "last: entry 3 (raft index 12) "+prev+"\n")
	assert.Equal(t, chain, readExport(t, file))
	out = mustRunOnFake(t, fake, "audit", "verify", "--file", file)
	assert.Equal(t, file+": 3 entries, intact: entries 1 to 3\nlast: entry 3 (raft index 12) "+prev+"\n", out)
	_, err = os.Stat(file + ".partial")
	assert.True(t, os.IsNotExist(err), "no partial file left")

	// Opened and saved in an editor: a BOM before it and blank lines after
	// it hold no entries and change none.
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	edited := filepath.Join(t.TempDir(), "edited.jsonl")
	require.NoError(t, os.WriteFile(edited, append(append([]byte("\ufeff"), data...), "\n\n"...), 0o644))
	out = mustRunOnFake(t, fake, "audit", "verify", "--file", edited)
	assert.Equal(t, edited+": 3 entries, intact: entries 1 to 3\nlast: entry 3 (raft index 12) "+prev+"\n", out)
	// One entry is "1 entry".
	out = mustRunOnFake(t, fakeAPI{"GET /api/v1/audit": api.AuditPage{Items: chain[:1], Head: cluster.AuditHead{Seq: 1, Index: chain[0].Index, Hash: chain[0].Hash}}}, "audit", "verify")
	assert.Contains(t, out, ": 1 entry, intact\n")
}

// auditNode serves a node's audit chain as GET /api/v1/audit does (after,
// limit), and the cluster's status when it has one.
type auditNode struct {
	chain  []cluster.AuditEntry
	status *cluster.Status
}

func (n *auditNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/v1/cluster/status":
		json.NewEncoder(w).Encode(n.status)
	case "/api/v1/audit":
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		last := n.chain[len(n.chain)-1]
		page := api.AuditPage{Items: []cluster.AuditEntry{}, Head: cluster.AuditHead{Seq: last.Seq, Index: last.Index, Hash: last.Hash}}
		for _, e := range n.chain {
			if e.Seq > after && len(page.Items) < limit {
				page.Items = append(page.Items, e)
			}
		}
		if len(page.Items) == limit && page.Items[limit-1].Seq < last.Seq {
			page.Next = strconv.FormatUint(page.Items[limit-1].Seq, 10)
		}
		json.NewEncoder(w).Encode(page)
	default:
		http.NotFound(w, r)
	}
}

// auditChain is a chain of n entries; from entry changed on (0: none) an
// actor is other, and every hash after it computed again, as one who
// edits a node's copy and hashes it again would.
func auditChain(n int, changed int) []cluster.AuditEntry {
	chain := make([]cluster.AuditEntry, n)
	prev := ""
	for i := range chain {
		e := cluster.AuditEntry{Seq: uint64(i + 1), Index: uint64(10 + i), ID: "c" + string(rune('a'+i)), Type: "token.create", Actor: "bootstrap-admin",
			Time: time.Date(2026, 12, 6, 8, 0, i, 0, time.UTC), Rules: 13, Payload: strings.Repeat("0", 64), Prev: prev}
		if i+1 == changed {
			e.Actor = "值班员"
		}
		e.Hash = e.Sum()
		chain[i], prev = e, e.Hash
	}
	return chain
}

// verify --every-node checks every member's chain and compares them at
// the last entry all hold: one whose copy was edited and hashed again
// (intact by itself) differs there; a member that does not answer is
// named; members that agree say so, the one ahead of the others compared
// where the others are.
func TestAuditVerifyEveryNodeComparesTheMembers(t *testing.T) {
	nodes := []*auditNode{{chain: auditChain(4, 0)}, {chain: auditChain(5, 0)}, {chain: auditChain(4, 3)}}
	st := &cluster.Status{NodeID: "n1"}
	var servers []*httptest.Server
	for i, n := range nodes {
		srv := httptest.NewServer(n)
		t.Cleanup(srv.Close)
		servers = append(servers, srv)
		st.Servers = append(st.Servers, cluster.ServerStatus{ID: fmt.Sprintf("n%d", i+1), HTTPAddr: srv.URL})
	}
	nodes[0].status = st
	run := func() (string, error) {
		root := newRoot()
		var out, errOut bytes.Buffer
		root.SetArgs([]string{"--addr", servers[0].URL, "--token", "mst_x", "audit", "verify", "--every-node"})
		root.SetOut(&out)
		root.SetErr(&errOut)
		_, err := root.ExecuteC()
		return out.String(), err
	}
	out, err := run()
	require.Error(t, err)
	good, edited := nodes[0].chain[3].Hash, nodes[2].chain[3].Hash
	assert.Contains(t, err.Error(), "the members differ at entry 4: n1, n2 hold "+good+"; n3 hold "+edited)
	assert.Contains(t, out, "n3:\naudit chain of the node at "+servers[2].URL+": 4 entries, intact", "n3's copy is intact by itself")

	nodes[2].chain = auditChain(4, 0)
	out, err = run()
	require.NoError(t, err)
	assert.Contains(t, out, "every member checked (n1, n2, n3) holds entry 4 with hash "+good+": the same history up to there\n")
	assert.Contains(t, out, "n2:\naudit chain of the node at "+servers[1].URL+": 5 entries, intact")

	servers[1].Close()
	_, err = run()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "n2: ")
}
