package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"muster/api"
	"muster/cluster"
)

func newAuditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "The audit chain: every command applied, who made it and when, each entry hashing the one before (admins)",
	}
	cmd.AddCommand(newAuditListCmd(g), newAuditVerifyCmd(g))
	return cmd
}

func newAuditListCmd(g *globals) *cobra.Command {
	pf := pageFlags{limit: 100}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the audit chain, oldest first: number, raft index, time, command, who",
		Long: `List the audit chain: one entry for every command the cluster applied since
every member's rules reached 12 (activations, approvals, stand-downs,
retractions, tokens, plans, roster imports, warnings, drills, and the
leader's own bookkeeping), oldest first, with who made it and when. The
payload itself stays in the state; the entry keeps its SHA-256. JSON:
{items: [AuditEntry], next, head}.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			items, next, err := c.pages("/api/v1/audit", nil, &pf)
			if err != nil {
				return err
			}
			if g.output == "json" {
				raw, err := json.Marshal(map[string]any{"items": items, "next": next})
				if err != nil {
					return err
				}
				return c.print(raw, nil)
			}
			w := newTable(c.out)
			fmt.Fprintln(w, "SEQ\tINDEX\tTIME\tCOMMAND\tBY")
			for _, it := range items {
				var e cluster.AuditEntry
				if err := json.Unmarshal(it, &e); err != nil {
					return err
				}
				fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\n", e.Seq, e.Index, localTime(e.Time), e.Type, e.Actor)
			}
			if err := w.Flush(); err != nil {
				return err
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
	return &cobra.Command{
		Use:   "verify",
		Short: "Check the audit chain of the node at --addr, entry by entry, and print its head",
		Long: `Read the whole audit chain of the node at --addr, its own copy (consistency
stale unless --consistency says otherwise), and check every entry: its hash
is the SHA-256 of its fields and names the entry before it. An entry
changed, taken out or put in is named, and the command exits 1.

Run it against every node and compare the heads it prints: nodes that have
applied the same entries hold the same head, so a copy edited on one disk
stands out even if its chain was hashed again. Keep the heads you see (a
report, a ticket): a later chain must still contain them.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.consistency == "" {
				g.consistency = "stale"
			}
			c := newClient(g, cmd)
			prev, after, n := "", "", 0
			var lastSeq uint64
			var p api.AuditPage
			for {
				q := url.Values{"limit": {"1000"}}
				if after != "" {
					q.Set("after", after)
				}
				p = api.AuditPage{}
				if err := c.do(request{method: http.MethodGet, path: "/api/v1/audit", query: q}, &p); err != nil {
					return err
				}
				for i := range p.Items {
					var err error
					if prev, err = cluster.VerifyAudit(prev, p.Items[i:i+1]); err != nil {
						return fmt.Errorf("audit chain of the node at %s is broken after %d good entries: %w", g.addr, n, err)
					}
					n++
				}
				if len(p.Items) > 0 {
					lastSeq = p.Items[len(p.Items)-1].Seq
				}
				if p.Next == "" {
					break
				}
				after = p.Next
			}
			return printVerified(c.out, g.addr, n, lastSeq, prev, p.Head)
		},
	}
}

// printVerified says what verify found: n entries, intact, the last one
// read numbered lastSeq with hash last, and the node's head, read with the
// last page.
func printVerified(w io.Writer, addr string, n int, lastSeq uint64, last string, head cluster.AuditHead) error {
	switch {
	case n == 0 && head.Seq == 0:
		_, err := fmt.Fprintf(w, "the node at %s has no audit entries yet (the chain starts once every member's rules reach %d)\n", addr, cluster.AuditRules)
		return err
	case head.Seq > lastSeq:
		// Entries were applied while the pages were read.
		_, err := fmt.Fprintf(w, "audit chain of the node at %s: %d entries intact, up to entry %d; the chain grew to entry %d while they were read: run again to check those too\n",
			addr, n, lastSeq, head.Seq)
		return err
	case head.Seq < lastSeq || head.Hash != last:
		return fmt.Errorf("audit chain of the node at %s: its head says entry %d with hash %s, but its last entry is %d with hash %s: the head or the last entries were changed",
			addr, head.Seq, head.Hash, lastSeq, last)
	}
	_, err := fmt.Fprintf(w, "audit chain of the node at %s: %d entries, intact\nhead: entry %d (raft index %d) %s\n", addr, n, head.Seq, head.Index, head.Hash)
	return err
}
