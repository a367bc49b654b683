package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"muster"
	"muster/access"
	"muster/api"
	"muster/cluster"
)

func newClusterCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Cluster membership: status, join, remove"}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster as the addressed node sees it",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return newClient(g, cmd).get("/api/v1/cluster/status", nil, func(raw []byte, w io.Writer) error {
				var st cluster.Status
				if err := json.Unmarshal(raw, &st); err != nil {
					return err
				}
				fmt.Fprintf(w, "node %s is %s, term %d, leader %s\n", st.NodeID, st.State, st.Term, orDash(st.LeaderID))
				fmt.Fprintf(w, "commit index %d, applied index %d, last snapshot %d\n", st.CommitIndex, st.AppliedIndex, st.LastSnapshotIndex)
				if st.Disk != nil {
					fmt.Fprintf(w, "data disk: %s\n", st.Disk)
				}
				fmt.Fprintf(w, "state-machine rules %d (this node's muster has %d)", st.Rules, st.NodeRules)
				if st.Rules < st.NodeRules {
					fmt.Fprint(w, ": a member runs an older muster; newer behaviour waits until every member is upgraded")
				}
				fmt.Fprint(w, "\n")
				if st.Restored != nil {
					fmt.Fprintf(w, "RESTORED: %s\n", restoreText(*st.Restored))
				}
				if st.ClockOff != "" {
					fmt.Fprintf(w, "CLOCK OFF: %s\n", st.ClockOff)
				}
				if l := publicURLText(st.Servers); l != "" {
					fmt.Fprintln(w, l)
				}
				if len(st.Servers) > 1 {
					if st.Encrypted {
						fmt.Fprintln(w, "node-to-node traffic encrypted (TLS 1.3, keyed by the cluster key)")
					} else {
						fmt.Fprintf(w, "node-to-node traffic authenticated, not encrypted: it is encrypted once every member runs a muster with rules %d\n", cluster.SealedRules)
					}
				}
				switch {
				case st.State == "Leader":
				case st.LeaderID == "":
					fmt.Fprintln(w, "no leader is known now: an election is under way, or the cluster has lost its quorum (check that a majority of the voters run and reach each other); which members answer (CONTACT, APPLIED) only a leader knows")
				default:
					fmt.Fprintf(w, "which members answer (CONTACT, APPLIED) only the leader knows: ask %s\n", st.LeaderID)
				}
				fmt.Fprint(w, "\n")
				fmt.Fprintln(w, "ID\tRAFT\tHTTP\tSUFFRAGE\tRULES\tLEADER\tCLOCK\tCONTACT\tAPPLIED")
				for _, s := range st.Servers {
					lead := ""
					if s.Leader {
						lead = "*"
					}
					applied := "-"
					if s.AppliedIndex > 0 {
						applied = fmt.Sprint(s.AppliedIndex)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.RaftAddr, orDash(s.HTTPAddr), s.Suffrage, s.Rules, lead, clockText(s), contactText(s), applied)
				}
				for _, s := range st.Servers {
					if s.ClockSkewed && s.ID != st.NodeID && s.ClockOffsetMs != nil {
						fmt.Fprintf(w, "\n%s's clock is %s this node's, beyond the %s the cluster tolerates: fix its time (NTP); "+
							"while the clocks of a majority of the members disagree with it, it does not lead, stamp commands or run the leader's services\n",
							s.ID, clockApart(*s.ClockOffsetMs), st.ClockTolerance)
					}
				}
				if l := liveSMSText(st.Servers); l != "" {
					fmt.Fprintf(w, "\n%s\n", l)
				}
				for _, s := range st.Servers {
					if s.LogFailing != "" {
						fmt.Fprintf(w, "\n%s cannot store the raft entries it is sent, so it does not count towards the quorum: %s\n", s.ID, s.LogFailing)
					}
				}
				return nil
			})
		},
	}
	var info cluster.NodeInfo
	join := &cobra.Command{
		Use:   "join --node-id ID --raft-addr HOST:PORT --http-addr HOST:PORT",
		Short: "Add a voter (the node itself joins with `muster agent --join`; this is for adding one by hand)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return postJSON(g, cmd, "/api/v1/cluster/join", info, fmt.Sprintf("node %s joined", info.ID))
		},
	}
	join.Flags().StringVar(&info.ID, "node-id", "", "ID of the node to add")
	join.Flags().StringVar(&info.RaftAddr, "raft-addr", "", "its raft address HOST:PORT")
	join.Flags().StringVar(&info.HTTPAddr, "http-addr", "", "its HTTP address HOST:PORT, as its muster agent --http-addr (or a URL, e.g. http://10.0.0.4:8080)")
	var force bool
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a member from the cluster",
		Long: "Remove a member from the cluster. The leader refuses when the voters that would remain would not\n" +
			"hold a quorum among those that answer it (another voter is down): the cluster would have no leader\n" +
			"until that one is back. Removing a member that does not answer is not refused so.",
		Args: needArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := cluster.RemoveRequest{ID: args[0], Force: force}
			return postJSON(g, cmd, "/api/v1/cluster/remove", req, fmt.Sprintf("node %s removed", req.ID))
		},
	}
	remove.Flags().BoolVar(&force, "force", false, "remove it even when the cluster would be left without a quorum of voters that answer")
	cmd.AddCommand(status, join, remove)
	return cmd
}

func postJSON(g *globals, cmd *cobra.Command, path string, in any, done string) error {
	c := newClient(g, cmd)
	var raw []byte
	if err := c.do(request{method: http.MethodPost, path: path, body: bytes.NewReader(mustJSON(in)), contentType: "application/json"}, &raw); err != nil {
		return err
	}
	return c.print(raw, func(raw []byte, w io.Writer) error {
		fmt.Fprintln(w, done)
		return nil
	})
}

// newWhoamiCmd shows who the token in use is and what its role may do:
// GET /api/v1/whoami.
func newWhoamiCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the token in use: its name, holder, role and what it may do",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return newClient(g, cmd).get("/api/v1/whoami", nil, func(raw []byte, w io.Writer) error {
				var who api.Whoami
				if err := json.Unmarshal(raw, &who); err != nil {
					return err
				}
				fmt.Fprintf(w, "token %s (%s, held by %s), role %s\n", who.TokenID, who.Name, cmp.Or(who.Holder, who.Name), who.Role)
				perms := make([]string, len(who.Permissions))
				for i, p := range who.Permissions {
					perms[i] = string(p)
				}
				fmt.Fprintf(w, "permissions: %s\n", cmp.Or(strings.Join(perms, ", "), "none"))
				var may []string
				for _, op := range slices.Sorted(maps.Keys(who.May)) {
					answer := "no"
					if who.May[op] {
						answer = "yes"
					}
					may = append(may, strings.ReplaceAll(op, "_", " ")+" "+answer)
				}
				fmt.Fprintf(w, "may: %s\n", strings.Join(may, ", "))
				return nil
			})
		},
	}
}

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "API tokens and their roles"}
	var role, name, holder, phone string
	var reuseName bool
	create := &cobra.Command{
		Use:   "create --role ROLE [--name NAME] [--holder PERSON] [--phone MOBILE] [--reuse-name]",
		Short: "Create a token (roles: admin, commander, approver, operator, trainer, viewer, feed); the secret is shown once",
		Long: `Create a token. The secret is shown once and never stored. --phone records
the holder's mobile (stored in E.164, read as the roster reads phones: 13800138000,
+86 138 0013 8000): when a level I–II LIVE request waits for approval, the
holders of approver and commander tokens with a phone, the requester aside, are
texted that it does.

A name a revoked token had is refused (once every member runs rules 13): the
audit trail names tokens by name, and a new token of that name would read as
the revoked one ("approved by 张三": which?). The refusal says when and by whom
it was revoked and offers a free name; --reuse-name takes the name all the
same, and muster audit list then tells the two apart by when each held it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				name = role
			}
			c := newClient(g, cmd)
			var raw []byte
			req := map[string]any{"name": name, "holder": holder, "role": role}
			if phone != "" { // a node before phones on tokens takes the request without it
				req["phone"] = phone
			}
			if reuseName {
				req["reuse_name"] = true
			}
			if err := c.do(request{method: http.MethodPost, path: "/api/v1/tokens", body: bytes.NewReader(mustJSON(req)), contentType: "application/json"}, &raw); err != nil {
				return err
			}
			return c.print(raw, func(raw []byte, w io.Writer) error {
				var t struct { // TokenCreated: the token's fields and its secret
					access.Token
					Secret string `json:"secret"`
				}
				if err := json.Unmarshal(raw, &t); err != nil {
					return err
				}
				held := t.HeldBy()
				if t.Phone != "" {
					held += ", phone " + t.Phone
				}
				fmt.Fprintf(w, "token %s (%s, held by %s, role %s):\n%s\n", t.ID, t.Name, held, t.Role, t.Secret)
				return nil
			})
		},
	}
	roleVar(create.Flags(), &role, "role of the new token")
	create.Flags().StringVar(&name, "name", "", "who or what uses it (default: the role)")
	create.Flags().StringVar(&holder, "holder", "", "the person it is issued to (default: its name); tokens of one holder count as one person where a second person must approve")
	create.Flags().BoolVar(&reuseName, "reuse-name", false, "take the name of a revoked token on purpose (refused without it: the audit trail names tokens by name)")
	create.Flags().StringVar(&phone, "phone", "", "the holder's mobile: an approver or commander with one is texted when a level I–II LIVE request waits for approval, and a commander with one when a LIVE orange or red warning goes unanswered past its response time (叫应)")
	_ = create.MarkFlagRequired("role")
	var pf pageFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return newClient(g, cmd).get("/api/v1/tokens", nil, func(raw []byte, w io.Writer) error {
				var l struct {
					Items []access.Token `json:"items"`
				}
				if err := json.Unmarshal(raw, &l); err != nil {
					return err
				}
				fmt.Fprintln(w, "ID\tNAME\tHOLDER\tPHONE\tROLE\tCREATED")
				for _, t := range l.Items {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s by %s\n", t.ID, t.Name, t.HeldBy(), orDash(t.Phone), t.Role, localTime(t.CreatedAt), t.CreatedBy)
				}
				return nil
			})
		},
	}
	pf.add(list)
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  needArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			if err := c.do(request{method: http.MethodDelete, path: "/api/v1/tokens/" + args[0]}, nil); err != nil {
				return err
			}
			if g.output == "json" {
				return c.print(mustJSON(map[string]string{"revoked": args[0]}), nil)
			}
			fmt.Fprintf(c.out, "token %s revoked\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// newBackupCmd is muster backup. The file holds the rosters' phones, the
// token hashes and the key that signs answer links: it is written for its
// owner only (0600), synced before it takes its name, and an existing file
// is not replaced unless --force says so (a dated name used twice a day
// would lose the morning's copy). It says which node and raft index the
// copy is of, as the node's answer does. A node that is not ready (no
// known leader, catching up, removed) serves a copy that may be behind
// the cluster: that copy is not written, and the command fails naming the
// node to ask instead, unless --allow-stale says to write it anyway (a
// lost quorum's way out), with a warning on standard error.
func newBackupCmd(g *globals) *cobra.Command {
	var file string
	var force, allowStale bool
	cmd := &cobra.Command{
		Use:   "backup -f FILE [--force] [--allow-stale]",
		Short: "Download a consistent copy of the cluster state (a bbolt file, readable by its owner only)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageErrorf("-f FILE is required")
			}
			if _, err := os.Stat(file); err == nil && !force {
				return fmt.Errorf("%s exists: give another file, or --force to replace it", file)
			}
			tmp := file + ".partial"
			f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			c := newClient(g, cmd)
			var h http.Header
			var stale string
			checked := false
			check := func() error {
				if checked {
					return nil
				}
				checked = true
				if stale = staleBackup(h); stale != "" && !allowStale {
					return fmt.Errorf("%s; the copy is not written: take the backup from a ready node, or give --allow-stale to write it anyway", stale)
				}
				return nil
			}
			// The headers come before the body: a copy not to be written
			// is not downloaded either.
			out := writerFunc(func(p []byte) (int, error) {
				if err := check(); err != nil {
					return 0, err
				}
				return f.Write(p)
			})
			err = c.do(request{method: http.MethodGet, path: "/api/v1/backup", timeout: 30 * time.Minute, answer: &h}, out)
			if err == nil {
				err = check()
			}
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(tmp)
				return err
			}
			if err := os.Rename(tmp, file); err != nil {
				return err
			}
			st, err := os.Stat(file)
			if err != nil {
				return err
			}
			node, index := backupOrigin(h)
			if stale != "" {
				fmt.Fprintf(c.err, "warning: %s; written as --allow-stale says\n", stale)
			}
			if g.output == "json" {
				return c.print(mustJSON(map[string]any{"file": file, "bytes": st.Size(), "node": node, "applied_index": index, "ready": stale == ""}), nil)
			}
			fmt.Fprintf(c.out, "backup of node %s at raft index %d written to %s (%s)\n", orDash(node), index, file, count(st.Size(), "byte", "bytes"))
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "where to write the backup")
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	cmd.Flags().BoolVar(&allowStale, "allow-stale", false, "write the copy of a node that is not ready (no known leader, catching up, removed), which may be behind the cluster")
	return cmd
}

// writerFunc is a function as an io.Writer.
type writerFunc func(p []byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

// staleBackup says, from a backup's headers, why its copy may be behind
// the cluster: the node was not ready (api.ReadyHeader false), how far
// behind the commit index it knows, and which node to ask instead; "" for
// a ready node's copy, or one from a muster that does not say.
func staleBackup(h http.Header) string {
	if h.Get(api.ReadyHeader) != "false" {
		return ""
	}
	node, index := backupOrigin(h)
	msg := fmt.Sprintf("node %s is not ready (%s): its copy, at raft index %d, may be behind the cluster", orDash(node), orDash(h.Get(api.NotReadyHeader)), index)
	if commit, _ := strconv.ParseUint(h.Get(api.CommitIndexHeader), 10, 64); commit > index {
		msg += fmt.Sprintf(", %s behind the commit index %d it knows", count(int64(commit-index), "entry", "entries"), commit)
	}
	switch leader, addr := h.Get(api.LeaderHeader), h.Get(api.LeaderHTTPHeader); {
	case leader != "" && addr != "":
		msg += fmt.Sprintf("; ask the leader %s instead (--addr %s)", leader, addr)
	case leader != "":
		msg += fmt.Sprintf("; ask the leader %s instead", leader)
	default:
		msg += "; it knows no leader: ask a member whose /readyz answers ready (muster cluster status on each says which one leads)"
	}
	return msg
}

// backupOrigin reads which node a backup is of and the raft index it
// reflects from the node's answer: X-Muster-Applied-Index, and the node in
// the file name it suggests (muster-n2-3644.db).
func backupOrigin(h http.Header) (node string, index uint64) {
	index, _ = strconv.ParseUint(h.Get(api.AppliedIndexHeader), 10, 64)
	if _, params, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil {
		name := strings.TrimSuffix(strings.TrimPrefix(params["filename"], "muster-"), ".db")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			node = name[:i]
		}
	}
	return node, index
}

// contactText is a member's CONTACT cell: how long ago it last answered
// the leader, LOST (and how long ago) when not within three heartbeat
// timeouts, LOG FAILING when it said it cannot store raft entries (why is
// said below the table), "-" where unknown (on a follower) or for the
// leader itself.
func contactText(s cluster.ServerStatus) string {
	switch {
	case s.LogFailing != "":
		return "LOG FAILING"
	case s.Reachable == nil:
		return "-"
	case !*s.Reachable && s.LastContact == "":
		return "LOST (never heard)"
	case !*s.Reachable:
		return "LOST " + s.LastContact + " ago"
	case s.LastContact == "":
		return "-"
	}
	return s.LastContact + " ago"
}

// clockText is a member's CLOCK cell: how far its clock is from the
// addressed node's ("+30m0s", "-4ms", "0s" for the node itself), OFF when
// it is the clock not to act on, "-" when not measured lately.
func clockText(s cluster.ServerStatus) string {
	if s.ClockOffsetMs == nil {
		return "-"
	}
	d := time.Duration(*s.ClockOffsetMs) * time.Millisecond
	if d.Abs() >= 10*time.Second {
		d = d.Round(time.Second)
	}
	text := d.String()
	if d > 0 {
		text = "+" + text
	}
	if s.ClockSkewed {
		text += " OFF"
	}
	return text
}

// clockApart says how far ahead of or behind another clock one is, ms
// milliseconds from it: "30m0s ahead of".
func clockApart(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	way := "ahead of"
	if d < 0 {
		way, d = "behind", -d
	}
	if d >= 10*time.Second {
		d = d.Round(time.Second)
	}
	return d.String() + " " + way
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// restoreText says which restore r was: its number, the backup it started
// the cluster over (raft index and time), when, and its tag, which tells it
// from another restore of the same backup and ends the attempt IDs made
// since (the provider's records show them); none for a restore by an
// earlier build.
func restoreText(r muster.Restore) string {
	taken := "at an unknown time (the backup's state does not say)"
	if !r.BackupTime.IsZero() {
		taken = "at " + showTime(r.BackupTime, time.Local, secondLayout)
	}
	s := fmt.Sprintf("restore %d, over a backup taken %s (raft index %d of the cluster it was taken of), restored %s",
		r.Count, taken, r.BackupIndex, showTime(r.RestoredAt, time.Local, secondLayout))
	if r.Tag != "" {
		s += fmt.Sprintf(", tag %s (attempt IDs since end in .r%d-%s)", r.Tag, r.Count, r.Tag)
	}
	return s
}

// auditCommand is an audit entry's command as the list shows it: its type,
// and what a restore's entry records (its payload, shown by the node).
func auditCommand(e cluster.AuditEntry) string {
	var r muster.Restore
	if e.Type != cluster.CmdRestored || json.Unmarshal(e.Shown, &r) != nil {
		return e.Type
	}
	return e.Type + ": RESTORED, " + restoreText(r)
}

// liveSMSText says which members have no LIVE SMS account, as their
// records say, and what that means: while such a member leads, LIVE
// activations and approvals are refused and the messages of the LIVE
// call-ups open stay pending; a member without one that does not lead
// would do so once leadership moves to it. Empty when every member has one.
func liveSMSText(servers []cluster.ServerStatus) string {
	var lead string
	var others []string
	for _, s := range servers {
		switch {
		case !s.NoLiveSMS:
		case s.Leader:
			lead = s.ID
		default:
			others = append(others, s.ID)
		}
	}
	const flags = "--twilio-account-sid, --twilio-auth-token and --twilio-from (or --twilio-messaging-service-sid)"
	var out []string
	if lead != "" {
		out = append(out, fmt.Sprintf("NO LIVE SMS ACCOUNT on the leader %s (主节点未配置真实短信账号): LIVE activations and approvals are refused, "+
			"and the messages of LIVE call-ups already open stay pending; restart it with its LIVE account (%s)", lead, flags))
	}
	if len(others) > 0 {
		out = append(out, fmt.Sprintf("no LIVE SMS account on %s: should leadership move there, LIVE call-ups are refused and nobody is called; "+
			"give every member the LIVE account (%s)", strings.Join(others, ", "), flags))
	}
	return strings.Join(out, "\n")
}

// publicURLText says which base URL the members give the providers for
// their webhooks and people in answer links: one URL when every member
// gives the same, else each member's. A URL that is a member's own
// address is named so: in a cluster of more than one, what the providers
// send while that member is down is lost.
func publicURLText(servers []cluster.ServerStatus) string {
	own := func(u string) string {
		for _, s := range servers {
			if u != "" && strings.TrimRight(s.HTTPAddr, "/") == strings.TrimRight(u, "/") {
				return s.ID
			}
		}
		return ""
	}
	const what = "public URL (the providers' webhooks, answer links)"
	if len(servers) == 0 {
		return ""
	}
	same := servers[0].PublicURL
	for _, s := range servers[1:] {
		if s.PublicURL != same {
			same = ""
		}
	}
	if same != "" {
		l := fmt.Sprintf("%s: %s, on every member", what, same)
		if id := own(same); id != "" && len(servers) > 1 {
			l += fmt.Sprintf(" (node %s's own address: what the providers send while it is down is lost)", id)
		}
		return l
	}
	var each []string
	for _, s := range servers {
		u := s.PublicURL
		switch {
		case u == "":
			u = "- (not recorded: its muster does not say)"
		case own(u) == s.ID:
			u += " (its own address)"
		case own(u) != "":
			u += fmt.Sprintf(" (node %s's address)", own(u))
		}
		each = append(each, s.ID+" "+u)
	}
	return what + ", by member: " + strings.Join(each, "; ")
}
