package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"muster/access"
	"muster/api"
	"muster/cluster"
)

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "The audit chain: every command applied, who made it and when, each entry hashing the one before (admins)",
	}
	cmd.AddCommand(newAuditListCmd(g), newAuditVerifyCmd(g), newAuditExportCmd(g), newAuditCutCmd(g))
	return cmd
}

// auditPage is a page of GET /api/v1/audit, with its entries also as the
// API wrote them (Raw, what an export keeps).
type auditPage struct {
	api.AuditPage
	Raw []json.RawMessage
}

// readAudit reads the audit chain from the entry after after, limit
// entries a request, giving each page to fn; it follows the pages to the
// end when all is set, and reads one otherwise. It returns the last page's
// next.
func readAudit(c *client, after uint64, limit int, all bool, fn func(p *auditPage) error) (string, error) {
	for {
		q := url.Values{"limit": {strconv.Itoa(limit)}}
		if after > 0 {
			q.Set("after", strconv.FormatUint(after, 10))
		}
		var body []byte
		if err := c.do(request{method: http.MethodGet, path: "/api/v1/audit", query: q}, &body); err != nil {
			return "", err
		}
		var p auditPage
		var raw struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(body, &p.AuditPage); err != nil {
			return "", unreadableAnswer(err)
		}
		if err := json.Unmarshal(body, &raw); err != nil || len(raw.Items) != len(p.Items) {
			return "", fmt.Errorf("the node's page of the audit chain does not read as one (%v)", err)
		}
		p.Raw = raw.Items
		if err := fn(&p); err != nil {
			return "", err
		}
		if !all || p.Next == "" {
			return p.Next, nil
		}
		var err error
		if after, err = strconv.ParseUint(p.Next, 10, 64); err != nil {
			return "", fmt.Errorf("the node's next page %q is not an entry number", p.Next)
		}
	}
}

func newAuditListCmd(g *globals) *cobra.Command {
	pf := pageFlags{limit: 100}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the audit chain, oldest first: number, raft index, time, command, who (and the person holding their token)",
		Long: `List the audit chain: one entry for every command the cluster applied since
every member's rules reached 12 (activations, approvals, stand-downs,
retractions, tokens, plans, roster imports, warnings, drills, and the
leader's own bookkeeping), oldest first, with who made it and when. The
payload itself stays in the state; the entry keeps its SHA-256. Once the
chain was cut (muster audit cut), it starts after the checkpoint, which
the first line names.

An entry names the token that made the request (BY), not its holder: HOLDER
is the person who held the token of that name when the entry was made, where
another than its name. It comes from the token records as they are now (the
live tokens, and the tokens revoked once every member ran rules 13), not
from the chain, whose entries and hashes it leaves as they are: - where it
is the token's name, or where the records do not tell (a token revoked
before rules 13, muster's own services).

JSON: {items: [AuditEntry], next, head, holders}, the head with its
checkpoint, holders mapping entry numbers to the holders the token records
tell.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			var after uint64
			if pf.after != "" {
				var err error
				if after, err = strconv.ParseUint(pf.after, 10, 64); err != nil {
					return usageErrorf("--after %q: want the number of an audit entry", pf.after)
				}
			}
			items := []json.RawMessage{}
			var entries []cluster.AuditEntry
			var head cluster.AuditHead
			holders := map[string]string{}
			next, err := readAudit(c, after, pf.limit, pf.all, func(p *auditPage) error {
				items, entries, head = append(items, p.Raw...), append(entries, p.Items...), p.Head
				maps.Copy(holders, p.Holders)
				return nil
			})
			if err != nil {
				return err
			}
			if g.output == "json" {
				raw, err := json.Marshal(map[string]any{"items": items, "next": next, "head": head, "holders": holders})
				if err != nil {
					return err
				}
				return c.print(raw, nil)
			}
			if cp := head.Checkpoint; cp.Seq > 0 && after <= cp.Seq {
				fmt.Fprintln(c.out, cp)
			}
			w := newTable(c.out)
			fmt.Fprintln(w, "SEQ\tINDEX\tTIME\tCOMMAND\tBY\tHOLDER")
			told := false
			for _, e := range entries {
				holder := holders[strconv.FormatUint(e.Seq, 10)]
				if holder == "" || access.SameHolder(holder, e.Actor) {
					holder = "-"
				} else {
					told = true
				}
				fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\n", e.Seq, e.Index, localTime(e.Time), auditCommand(e), e.Actor, holder)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if told {
				fmt.Fprintln(c.err, "HOLDER: who held the token named in BY then, from the token records as they are now, not from the chain")
			}
			if next != "" {
				fmt.Fprintf(c.err, "more: --after %s (or --all)\n", next)
			}
			return nil
		},
	}
	pf.add(cmd)
	return cmd
}

func newAuditVerifyCmd(g *globals) *cobra.Command {
	var file string
	var everyNode bool
	cmd := &cobra.Command{
		Use:   "verify [--file FILE | --every-node]",
		Short: "Check the audit chain of the node at --addr, or an export of it (--file), entry by entry, and print its head",
		Long: `Read the whole audit chain of the node at --addr, its own copy (consistency
stale unless --consistency says otherwise), and check every entry: its
number follows the one before, its hash is the SHA-256 of its fields and
names the entry before it. An entry changed, taken out or put in is named,
and the command exits 1. A chain that was cut (muster audit cut) is checked
from its checkpoint, which is printed: the hash of the last entry cut,
which the export holding the entries cut ends with.

Run it against every node and compare the heads it prints: nodes that have
applied the same entries hold the same head, so a copy edited on one disk
stands out even if its chain was hashed again. --every-node does that: it
checks the chain of every member the node at --addr knows, then reads the
entry all of them have reached from each and says whether they hold the
same hash there (exit 1 if not, or if a member does not answer). Keep the
heads you see (a report, a ticket): a later chain must still contain them.

With --file, check an export (muster audit export) offline, the same way,
and name the first line that does not hold. Its first entry names the hash
of the entry before it (the checkpoint, or the last of the export before
it): compare the two.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			if file != "" {
				f, err := verifyAuditFile(file)
				if err != nil {
					return err
				}
				if g.output == "json" {
					return c.print(mustJSON(f), nil)
				}
				fmt.Fprintf(c.out, "%s: %s, intact: entries %d to %d\n", file, count(f.Entries, "entry", "entries"), f.From, f.Through)
				if f.From > 1 {
					fmt.Fprintf(c.out, "first: entry %d follows hash %s (the checkpoint, or the last entry of the export before)\n", f.From, f.Prev)
				}
				fmt.Fprintf(c.out, "last: entry %d (raft index %d) %s\n", f.Through, f.Index, f.Hash)
				return nil
			}
			if g.consistency == "" {
				g.consistency = "stale"
			}
			if everyNode {
				return verifyEveryNode(g, cmd)
			}
			_, err := verifyNodeAudit(c, g.addr)
			return err
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "check this export (muster audit export) instead of a node's chain")
	cmd.Flags().BoolVar(&everyNode, "every-node", false, "check the chain of every member, and that they hold the same entries")
	cmd.MarkFlagsMutuallyExclusive("file", "every-node")
	return cmd
}

// verifyNodeAudit checks the whole audit chain of the node c talks to (at
// addr), prints what it found, and returns the last entry it checked.
func verifyNodeAudit(c *client, addr string) (cluster.AuditHead, error) {
	var before, last cluster.AuditHead
	var head cluster.AuditHead
	n, started := 0, false
	_, err := readAudit(c, 0, 1000, true, func(p *auditPage) error {
		if !started {
			before, last, started = p.Head.Checkpoint.Before(), p.Head.Checkpoint.Before(), true
		}
		head = p.Head
		for i := range p.Items {
			var err error
			if last, err = cluster.VerifyAudit(last, p.Items[i:i+1]); err != nil {
				return fmt.Errorf("audit chain of the node at %s is broken after %d good entries: %w", addr, n, err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return last, err
	}
	return last, printVerified(c.out, addr, n, before, last, head)
}

// verifyEveryNode checks the chain of every member the node at --addr
// knows, then compares them at the last entry all have: the same history
// gives the same hash there.
func verifyEveryNode(g *globals, cmd *cobra.Command) error {
	c := newClient(g, cmd)
	var st cluster.Status
	var body []byte
	if err := c.do(request{method: http.MethodGet, path: "/api/v1/cluster/status"}, &body); err != nil {
		return err
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return unreadableAnswer(err)
	}
	type member struct {
		id, addr string
		c        *client
		last     cluster.AuditHead
	}
	var members []member
	var failed []string
	for _, s := range st.Servers {
		if s.HTTPAddr == "" {
			failed = append(failed, fmt.Sprintf("%s: its record has no HTTP address", s.ID))
			continue
		}
		gm := *g
		gm.addr = s.HTTPAddr
		m := member{id: s.ID, addr: s.HTTPAddr, c: newClient(&gm, cmd)}
		fmt.Fprintf(c.out, "%s:\n", s.ID)
		last, err := verifyNodeAudit(m.c, m.addr)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", s.ID, err))
			continue
		}
		m.last = last
		members = append(members, m)
	}
	if len(members) > 0 {
		common := members[0].last.Seq
		for _, m := range members[1:] {
			common = min(common, m.last.Seq)
		}
		hashes := map[string][]string{}
		for _, m := range members {
			if common == 0 {
				break
			}
			var at string
			if _, err := readAudit(m.c, common-1, 1, false, func(p *auditPage) error {
				if len(p.Items) == 1 && p.Items[0].Seq == common {
					at = p.Items[0].Hash
				}
				return nil
			}); err != nil || at == "" {
				failed = append(failed, fmt.Sprintf("%s: entry %d could not be read (%v; cut there since?)", m.id, common, err))
				continue
			}
			hashes[at] = append(hashes[at], m.id)
		}
		switch {
		case common == 0:
			fmt.Fprintln(c.out, "no entry that every member holds yet")
		case len(hashes) == 1:
			for h, ids := range hashes {
				fmt.Fprintf(c.out, "every member checked (%s) holds entry %d with hash %s: the same history up to there\n", strings.Join(ids, ", "), common, h)
			}
		case len(hashes) > 1:
			var say []string
			for h, ids := range hashes {
				say = append(say, fmt.Sprintf("%s hold %s", strings.Join(ids, ", "), h))
			}
			slices.Sort(say)
			failed = append(failed, fmt.Sprintf("the members differ at entry %d: %s; a node's copy was changed: compare with the heads you kept", common, strings.Join(say, "; ")))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("not every member's audit chain checks out:\n  %s", strings.Join(failed, "\n  "))
	}
	return nil
}

// printVerified says what verify found: n entries, intact, from before (the
// chain's checkpoint, zero if it was never cut) to last, and the node's
// head, read with the last page, with its checkpoint.
func printVerified(w io.Writer, addr string, n int, before, last cluster.AuditHead, head cluster.AuditHead) error {
	if cp := head.Checkpoint; cp.Seq > 0 {
		if _, err := fmt.Fprintln(w, cp); err != nil {
			return err
		}
	}
	switch {
	case n == 0 && head.Seq == 0:
		_, err := fmt.Fprintf(w, "the node at %s has no audit entries yet (the chain starts once every member's rules reach %d)\n", addr, cluster.AuditRules)
		return err
	case head.Seq > last.Seq:
		// Entries were applied while the pages were read.
		_, err := fmt.Fprintf(w, "audit chain of the node at %s: %s intact, up to entry %d; the chain grew to entry %d while they were read: run again to check those too\n",
			addr, count(n, "entry", "entries"), last.Seq, head.Seq)
		return err
	case head.Seq < last.Seq || head.Hash != last.Hash:
		return fmt.Errorf("audit chain of the node at %s: its head says entry %d with hash %s, but its last entry is %d with hash %s: the head or the last entries were changed",
			addr, head.Seq, head.Hash, last.Seq, last.Hash)
	}
	from := ""
	if before.Seq > 0 {
		from = fmt.Sprintf(" from entry %d", before.Seq+1)
	}
	_, err := fmt.Fprintf(w, "audit chain of the node at %s: %s%s, intact\nhead: entry %d (raft index %d) %s\n", addr, count(n, "entry", "entries"), from, head.Seq, head.Index, head.Hash)
	return err
}

// auditFile is what an export holds: entries From to Through, intact, the
// first naming Prev as the hash before it, the last with raft index Index
// and hash Hash.
type auditFile struct {
	File    string `json:"file"`
	Entries int    `json:"entries"`
	From    uint64 `json:"from"`
	Prev    string `json:"prev"`
	Through uint64 `json:"through"`
	Index   uint64 `json:"index"`
	Hash    string `json:"hash"`
}

// verifyAuditFile checks an export, one entry a line as the API gives it:
// every line an entry, each entry's hash its fields' and naming the entry
// before, the numbers one after another. The first entry is taken to follow
// the hash it names (the chain's start for entry 1). The error names the
// first line that does not hold.
func verifyAuditFile(path string) (auditFile, error) {
	out := auditFile{File: path}
	f, err := os.Open(path)
	if err != nil {
		return out, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var last cluster.AuditHead
	line, entries := 0, 0
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\ufeff")) // a BOM an editor added
		}
		if len(bytes.TrimSpace(text)) == 0 {
			continue // a blank line (an editor's last newline) holds nothing
		}
		entries++
		var e cluster.AuditEntry
		if err := json.Unmarshal(text, &e); err != nil || e.Seq == 0 {
			if err == nil {
				err = errors.New("no entry number (seq)")
			}
			return out, fmt.Errorf("%s line %d is not an audit entry: %v", path, line, err)
		}
		if entries == 1 {
			out.From, out.Prev = e.Seq, e.Prev
			if e.Seq > 1 {
				last = cluster.AuditHead{Seq: e.Seq - 1, Hash: e.Prev}
			}
		}
		if last, err = cluster.VerifyAudit(last, []cluster.AuditEntry{e}); err != nil {
			return out, fmt.Errorf("%s line %d, after %s: %w", path, line, count(entries-1, "good entry", "good entries"), err)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("%s line %d: %w", path, line+1, err)
	}
	if entries == 0 {
		return out, fmt.Errorf("%s holds no audit entries", path)
	}
	out.Entries, out.Through, out.Index, out.Hash = entries, last.Seq, last.Index, last.Hash
	return out, nil
}

// appliedCut waits, at most auditCutApplied, until the node at --addr has
// applied a cut through entry through to its own copy (a follower applies
// it a moment after the leader answered), so that an audit verify run next
// there shows it; it reports whether it has.
func appliedCut(g *globals, cmd *cobra.Command, through uint64) bool {
	gs := *g
	gs.consistency = "stale"
	c := newClient(&gs, cmd)
	for deadline := time.Now().Add(auditCutApplied); ; {
		var seen uint64
		_, err := readAudit(c, 0, 1, false, func(p *auditPage) error {
			seen = p.Head.Checkpoint.Seq
			return nil
		})
		if err == nil && seen >= through {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond) // polling the node, bounded by the deadline
	}
}

// auditCutApplied bounds how long audit cut waits for the node at --addr
// to apply the cut.
const auditCutApplied = 10 * time.Second

// auditExportProgress is how many pages an export reads between two lines
// of progress.
const auditExportProgress = 10

func newAuditExportCmd(g *globals) *cobra.Command {
	var file string
	var from uint64
	var force bool
	limit := 1000
	cmd := &cobra.Command{
		Use:   "export --out FILE [--from SEQ] [--force]",
		Short: "Write the audit chain to a file, one entry a line as the API gives it, to keep and to verify offline",
		Long: `Read the audit chain from its start (or from entry --from) to its head and
write it to FILE, one entry a line, each exactly as GET /api/v1/audit gives
it: the file holds every field its hashes cover, so muster audit verify
--file checks it without the cluster, and muster audit cut takes it to cut
the entries it holds. The chain is checked as it is read; an export of a
chain that does not hold is not written. Progress goes to stderr.

The file is written beside FILE and takes its name once complete; an
existing FILE is not replaced unless --force says so. Keep the file (and the
last hash printed) somewhere else than the cluster: after a cut it is the
only copy of the entries cut.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageErrorf("--out FILE is required")
			}
			if _, err := os.Stat(file); err == nil && !force {
				return fmt.Errorf("%s exists: give another file, or --force to replace it", file)
			}
			c := newClient(g, cmd)
			tmp := file + ".partial"
			f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(f)
			var first, last cluster.AuditHead
			var cp cluster.AuditCheckpoint
			n, pages := 0, 0
			_, err = readAudit(c, max(from, 1)-1, limit, true, func(p *auditPage) error {
				pages++
				for i, e := range p.Items {
					if n == 0 {
						cp = p.Head.Checkpoint
						switch {
						case from > 0 && e.Seq > from && from <= cp.Seq:
							return fmt.Errorf("entry %d is no longer in the chain: %s", from, cp)
						case e.Seq == cp.Seq+1:
							last = cp.Before()
						case e.Seq > 1:
							last = cluster.AuditHead{Seq: e.Seq - 1, Hash: e.Prev}
						}
						first = cluster.AuditHead{Seq: e.Seq, Hash: e.Prev}
					}
					var err error
					if last, err = cluster.VerifyAudit(last, []cluster.AuditEntry{e}); err != nil {
						return fmt.Errorf("the chain does not hold, nothing written: %w", err)
					}
					if _, err := w.Write(append(p.Raw[i], '\n')); err != nil {
						return err
					}
					n++
				}
				if p.Next != "" && pages%auditExportProgress == 0 {
					fmt.Fprintf(c.err, "exported %s, up to entry %d of %d\n", count(n, "entry", "entries"), last.Seq, p.Head.Seq)
				}
				return nil
			})
			if err == nil && n == 0 {
				err = fmt.Errorf("the chain has no entries after %d to export", max(from, 1)-1)
			}
			if err == nil {
				err = w.Flush()
			}
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(tmp, file)
			}
			if err != nil {
				os.Remove(tmp)
				return err
			}
			st, err := os.Stat(file)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return c.print(mustJSON(auditFile{File: file, Entries: n, From: first.Seq, Prev: first.Hash, Through: last.Seq, Index: last.Index, Hash: last.Hash}), nil)
			}
			fmt.Fprintf(c.out, "exported entries %d to %d (%s, %s) to %s\n", first.Seq, last.Seq, count(n, "entry", "entries"), count(st.Size(), "byte", "bytes"), file)
			if cp.Seq > 0 && first.Seq == cp.Seq+1 {
				fmt.Fprintln(c.out, cp)
			}
			fmt.Fprintf(c.out, "last: entry %d (raft index %d) %s\n", last.Seq, last.Index, last.Hash)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "out", "", "the file to write")
	cmd.Flags().Uint64Var(&from, "from", 0, "the first entry to export (default: the chain's first)")
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	cmd.Flags().IntVar(&limit, "page", limit, "entries a request (max 1000)")
	return cmd
}

func newAuditCutCmd(g *globals) *cobra.Command {
	var file, reason string
	batch := cluster.AuditCutMax
	cmd := &cobra.Command{
		Use:   "cut --through-file FILE --reason TEXT",
		Short: "Cut the audit chain's entries up to the last one of an export (admins)",
		Long: `Check the export FILE (muster audit export) as muster audit verify --file
does, then cut the chain's entries up to its last: the cluster removes them
only if its own entry of that number has the export's hash, and only if
the export holds every entry still in the chain before it, so that nothing
is cut that you do not hold. Keep the file somewhere else first.

The chain then starts from a checkpoint, the number and hash of the last
entry cut, with when, by whom and why: muster audit list and verify show
it, and verify checks the chain from it. Each request cuts at most --batch
entries, one replicated command each (a cut of a million entries does not
hold up the cluster); the command goes on until the export's last entry is
cut, with progress on stderr. Every request leaves an entry of its own
(audit.cut). Every member's rules must be 13 or newer.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case file == "":
				return usageErrorf("--through-file FILE is required: an export of the chain (muster audit export)")
			case reason == "":
				return usageErrorf("--reason TEXT is required: why the entries are cut, e.g. where the export is kept")
			case batch < 1 || batch > cluster.AuditCutMax:
				return usageErrorf("--batch: 1 to %d", cluster.AuditCutMax)
			}
			f, err := verifyAuditFile(file)
			if err != nil {
				return fmt.Errorf("nothing was cut: %w", err)
			}
			c := newClient(g, cmd)
			req := cluster.AuditCutRequest{From: f.From, Through: f.Through, Hash: f.Hash, Reason: reason, Max: batch}
			var res cluster.AuditCutResult
			var removed uint64
			requests := 0
			for {
				if err := c.postJSON("/api/v1/audit/cut", req, &res); err != nil {
					if requests > 0 {
						return fmt.Errorf("%w (entries up to %d were cut before; run the same command again to go on)", err, res.Checkpoint.Seq)
					}
					return err
				}
				requests++
				removed += res.Removed
				if res.Remaining == 0 {
					break
				}
				fmt.Fprintf(c.err, "cut %s, up to entry %d; %d to go\n", count(int64(removed), "entry", "entries"), res.Checkpoint.Seq, res.Remaining)
			}
			if !appliedCut(g, cmd, f.Through) {
				fmt.Fprintf(c.err, "the node at %s has not applied the cut yet: its own copy (what muster audit verify reads) shows it once it has\n", g.addr)
			}
			if g.output == "json" {
				return c.print(mustJSON(map[string]any{"removed": removed, "requests": requests, "checkpoint": res.Checkpoint}), nil)
			}
			fmt.Fprintf(c.out, "cut %s, up to entry %d, in %s\n%s\n", count(int64(removed), "entry", "entries"), f.Through,
				count(requests, "request", "requests"), res.Checkpoint)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "through-file", "", "the export whose entries are cut (muster audit export)")
	cmd.Flags().StringVar(&reason, "reason", "", "why, e.g. where the export is kept")
	cmd.Flags().IntVar(&batch, "batch", batch, fmt.Sprintf("entries cut by one request, 1 to %d", cluster.AuditCutMax))
	return cmd
}
