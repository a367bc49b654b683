package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"muster/api"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

func newRegionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "region", Short: "List and import regions (市/区/街道/社区/网格)"}
	var pf pageFlags
	var parent, kind string
	list := &cobra.Command{
		Use:   "list",
		Short: "List regions, optionally the children of one region or one kind",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if parent != "" {
				q.Set("parent", parent)
			}
			if kind != "" {
				q.Set("kind", kind)
			}
			return newClient(g, cmd).list("/api/v1/regions", q, &pf, "CODE\tKIND\tNAME\tPARENT\tNAME_EN", func(it json.RawMessage) (string, error) {
				var r plans.Region
				err := json.Unmarshal(it, &r)
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", r.Code, r.Kind, r.Name, r.Parent, r.NameEN), err
			})
		},
	}
	list.Flags().StringVar(&parent, "parent", "", "list the direct children of this region code")
	checkedVar(list.Flags(), &kind, "kind", "", "only regions of this kind: city, district, street, community, grid",
		"city, district, street, community or grid (市, 区, 街道, 社区, 网格)", parses(plans.ParseRegionKind))
	pf.add(list)

	var file string
	imp := &cobra.Command{
		Use:   "import -f FILE",
		Short: "Create or update regions from a CSV (编码,名称,级别,上级[,英文名] / code,name,kind,parent[,name_en])",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			raw, err := c.postFile(file, "/api/v1/regions/import", nil, "text/csv", 0)
			if err != nil {
				return withRowErrors(c, err)
			}
			return c.print(raw, func(raw []byte, w io.Writer) error {
				var r plans.RegionImportResult
				if err := json.Unmarshal(raw, &r); err != nil {
					return err
				}
				fmt.Fprintf(w, "created %d, updated %d, unchanged %d\n", r.Created, r.Updated, r.Unchanged)
				return nil
			})
		},
	}
	imp.Flags().StringVarP(&file, "file", "f", "", "CSV file (- for stdin)")
	cmd.AddCommand(list, imp)
	return cmd
}

func newPersonCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "person", Short: "List, show, change and delete people in the roster"}
	var pf pageFlags
	var f struct{ region, category, tag, team, phone, externalID string }
	list := &cobra.Command{
		Use:   "list",
		Short: "List people, filtered by region (and everything under it), category, tag, team, phone or 编号",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"region": f.region, "category": f.category, "tag": f.tag, "team": f.team, "phone": f.phone, "external_id": f.externalID} {
				if v != "" {
					q.Set(k, v)
				}
			}
			return newClient(g, cmd).list("/api/v1/people", q, &pf, "ID\tEXTERNAL_ID\tNAME\tPHONES\tGRID\tCATEGORY\tTAGS\tTEAMS", func(it json.RawMessage) (string, error) {
				var p plans.Person
				err := json.Unmarshal(it, &p)
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s", p.ID, cmp.Or(p.ExternalID, "-"), p.Name, joinList(p.Phones), p.Grid, p.Category, joinList(p.Tags), joinList(p.Teams)), err
			})
		},
	}
	list.Flags().StringVar(&f.region, "region", "", "region code: people in it or under it")
	categoryVar(list.Flags(), &f.category, "category, e.g. 党员 or volunteer")
	list.Flags().StringVar(&f.tag, "tag", "", "tag, e.g. 网格长")
	list.Flags().StringVar(&f.team, "team", "", "team, e.g. 防汛抢险队")
	list.Flags().StringVar(&f.phone, "phone", "", "exact phone number")
	list.Flags().StringVar(&f.externalID, "external-id", "", "exact 编号 (external ID) of the roster file, e.g. P0000042")
	pf.add(list)
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one person",
		Args:  needArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			return c.get("/api/v1/people/"+url.PathEscape(args[0]), nil, personTable(c))
		},
	}
	cmd.AddCommand(list, show, newPersonSetCmd(g), newPersonDeleteCmd(g))
	return cmd
}

// personTable shows one person, a field a line; the backup with the 编号
// and name a roster file knows them by, looked up with c (muster's ID
// alone is not what a file names them by).
func personTable(c *client) func(raw []byte, w io.Writer) error {
	return func(raw []byte, w io.Writer) error {
		var p plans.Person
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		backup := string(p.Backup)
		var b plans.Person
		if backup != "" && c.do(request{method: http.MethodGet, path: "/api/v1/people/" + url.PathEscape(backup)}, &b) == nil {
			known := b.ExternalID
			if known == "" && len(b.Phones) > 0 {
				known = b.Phones[0]
			}
			backup += " (" + strings.TrimSpace(known+" "+b.Name) + ")"
		}
		for _, kv := range [][2]string{{"id", string(p.ID)}, {"external id", p.ExternalID}, {"name", p.Name}, {"phones", joinList(p.Phones)},
			{"grid", string(p.Grid)}, {"category", string(p.Category)}, {"tags", joinList(p.Tags)}, {"teams", joinList(p.Teams)},
			{"backup", backup}, {"language", string(p.Language)}} {
			fmt.Fprintf(w, "%s:\t%s\n", kv[0], kv[1])
		}
		return nil
	}
}

// musterID matches muster's own person IDs (P00000042).
var musterID = regexp.MustCompile(`^P[0-9]{8}$`)

// backupID is the person ID person set gives as the backup named by ref:
// ref itself when it is muster's ID (or empty, clearing it), else the one
// person whose 编号 it is, as a roster file names backups.
func backupID(c *client, ref string) (string, error) {
	if ref == "" || musterID.MatchString(ref) {
		return ref, nil
	}
	var l struct {
		Items []plans.Person `json:"items"`
	}
	if err := c.do(request{method: http.MethodGet, path: "/api/v1/people", query: url.Values{"external_id": {ref}, "limit": {"2"}}}, &l); err != nil {
		return "", err
	}
	if len(l.Items) != 1 {
		return "", fmt.Errorf("--backup %q: no person has that ID or 编号", ref)
	}
	return string(l.Items[0].ID), nil
}

// personSetTries is how often muster person set reads and writes a person
// that others keep changing before it gives up.
const personSetTries = 3

// newPersonSetCmd is muster person set: a roster keeper corrects one
// person (a phone at 3 am) without a file. Only the fields given change; the
// person is read and written back whole (PUT) with the version read, so a
// change another keeper made in between is kept.
func newPersonSetCmd(g *globals) *cobra.Command {
	var in struct {
		name, grid, category, backup, language string
		phones, tags, teams                    []string
	}
	cmd := &cobra.Command{
		Use:   "set ID [--phones P[,P...]] [--name N] [--grid CODE] [--category C] [--tags T,...] [--teams T,...] [--backup ID] [--language zh|en]",
		Short: "Change one person's fields (only those given); SMS and calls go to the first phone, the next when it takes no SMS",
		Args:  needArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if !slices.ContainsFunc([]string{"name", "phones", "grid", "category", "tags", "teams", "backup", "language"}, f.Changed) {
				return usageErrorf("give at least one field to change, e.g. --phones 13800138000")
			}
			c := newClient(g, cmd)
			path := "/api/v1/people/" + url.PathEscape(args[0])
			if f.Changed("backup") {
				id, err := backupID(c, in.backup)
				if err != nil {
					return err
				}
				in.backup = id
			}
			var raw json.RawMessage
			// The person is read and written back with the version read
			// (If-Match): when another keeper changed them in between, the
			// write is refused (412) and the fields given are put on the
			// person as they are now, a few times at most.
			for try := 1; ; try++ {
				var p plans.Person
				var answer http.Header
				if err := c.do(request{method: http.MethodGet, path: path, answer: &answer}, &p); err != nil {
					return err
				}
				pin := plans.PersonInput{ExternalID: p.ExternalID, Name: p.Name, Phones: p.Phones, Grid: string(p.Grid), Category: string(p.Category),
					Tags: p.Tags, Teams: p.Teams, Backup: string(p.Backup), Language: string(p.Language)}
				for name, set := range map[string]func(){
					"name": func() { pin.Name = in.name }, "phones": func() { pin.Phones = in.phones }, "grid": func() { pin.Grid = in.grid },
					"category": func() { pin.Category = in.category }, "tags": func() { pin.Tags = in.tags }, "teams": func() { pin.Teams = in.teams },
					"backup": func() { pin.Backup = in.backup }, "language": func() { pin.Language = in.language },
				} {
					if f.Changed(name) {
						set()
					}
				}
				err := c.do(request{method: http.MethodPut, path: path, body: bytes.NewReader(mustJSON(pin)), contentType: "application/json",
					header: map[string]string{"If-Match": answer.Get("ETag")}}, &raw)
				var ae *apiError
				if errors.As(err, &ae) && ae.Status == http.StatusPreconditionFailed && try < personSetTries {
					continue // changed by someone else since it was read: read it again
				}
				if err != nil {
					return err
				}
				break
			}
			return c.print(raw, personTable(c))
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.name, "name", "", "name")
	f.StringSliceVar(&in.phones, "phones", nil, "every phone, the first messaged and called (the next when the first takes no SMS; every one recognises replies), e.g. 13800138000,010-12345678; also separated by ; ； ， or 、 as in a roster file")
	f.StringVar(&in.grid, "grid", "", "grid code")
	categoryVar(f, &in.category, "category, e.g. 党员 or volunteer")
	f.StringSliceVar(&in.tags, "tags", nil, "every tag, e.g. 网格长 (--tags= clears them)")
	f.StringSliceVar(&in.teams, "teams", nil, "every team (--teams= clears them)")
	f.StringVar(&in.backup, "backup", "", "the backup: their person ID or 编号 (--backup= clears it)")
	languageVar(f, &in.language, "zh or en")
	return cmd
}

// newPersonDeleteCmd is muster person delete: a person leaves the roster
// (a file imported again without them keeps them). The answer names the
// open call-ups that still call them up, which deleting them does not
// stop, and how to take them off each.
func newPersonDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Take a person out of the roster (people who had them as backup lose it; open call-ups that call them are named)",
		Long: `Take a person out of the roster. People who had them as backup lose it.
A call-up already running keeps its own copy of the people it calls up, so
it goes on sending to them, reminding, calling and escalating them while
they are silent: the answer names each such call-up, what it will still do,
and the command that takes them off it (muster recipient cancel).`,
		Args: needArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			var raw []byte
			if err := c.do(request{method: http.MethodDelete, path: "/api/v1/people/" + url.PathEscape(args[0])}, &raw); err != nil {
				return err
			}
			var out api.PersonDeleted
			if len(bytes.TrimSpace(raw)) == 0 || json.Unmarshal(raw, &out) != nil {
				out = api.PersonDeleted{Deleted: plans.PersonID(args[0])} // a server that answers 204
				raw = mustJSON(map[string]string{"deleted": args[0]})
			}
			if g.output == "json" {
				return c.print(raw, nil)
			}
			printPersonDeleted(c.out, out)
			return nil
		},
	}
}

// printPersonDeleted says that a person was deleted and names the open
// call-ups that still call them up, each with what it will still do and
// the command that takes them off it.
func printPersonDeleted(w io.Writer, d api.PersonDeleted) {
	fmt.Fprintf(w, "person %s deleted\n", d.Deleted)
	if d.CallUpsError != "" {
		fmt.Fprintf(w, "their open call-ups could not be read (%s): muster status lists the call-ups running\n", d.CallUpsError)
	}
	for _, u := range d.CallUps {
		fmt.Fprintf(w, "still called up by %s (%s, %s, level %s; %s): %s, to %s\n", u.Activation, u.Purpose, u.PlanTitle, u.Level, u.State, u.Still, u.Phone)
		fmt.Fprintf(w, "  to stop it: %s\n", notify.RecipientCancelHint(u.Activation, d.Deleted))
	}
}

func newRosterCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "roster", Short: "Import roster files; generate demo rosters"}
	var file string
	var dryRun, skipInvalid, allowRenames bool
	imp := &cobra.Command{
		Use:   "import -f FILE",
		Short: "Import people from CSV (UTF-8, UTF-8 with BOM or GBK/GB18030) or XLSX",
		Long: `Import people from a CSV (UTF-8, UTF-8 with BOM or GBK/GB18030, detected from
the content) or XLSX file with Chinese or English headers (spaces in them do not
matter; 序号 and 备注 columns are ignored):
  编号/id  姓名/name  手机/手机号码/联系电话/phone  网格/grid  类别/category
  标签/tags  队伍/team  备用联系人/backup  语言/language
SMS and calls go to a person's first phone, the next when it takes no SMS; a
reply from any of them is recognised.
People are matched by external ID, else by phone, so importing the same file
again changes nothing. Any bad row means nothing is imported and every bad row
is listed; --skip-invalid imports the good rows and lists the rest.
A row without an external ID that matches a person by phone but names them
otherwise would rename them (the number may now be someone else's, or the
name a typo): the import lists each (row, old name → new name, phone, grid)
and is refused unless --allow-renames; --dry-run lists them too.
Once the node has the whole file, Ctrl-C stops only the waiting: the node
goes on with the import to its end (all of it, or none if it refuses the
file), and the command says so.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c := newClient(g, cmd)
			q := url.Values{}
			if dryRun {
				q.Set("dry_run", "true")
			}
			if skipInvalid {
				q.Set("skip_invalid", "true")
			}
			if allowRenames {
				q.Set("allow_renames", "true")
			}
			q.Set("filename", filepath.Base(file))
			start := time.Now()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			raw, sent, err := postRoster(ctx, c, file, q)
			// An answer of the node, even a refusal, says what became of
			// the import better than the interrupt can.
			var answered *apiError
			interrupted := err != nil && !errors.As(err, &answered) && ctx.Err() != nil && cmd.Context().Err() == nil
			stop() // Ctrl-C from here on ends muster as usual
			if interrupted {
				return interruptedImport(file, dryRun, sent)
			}
			if err != nil {
				return withRowErrors(c, err)
			}
			took := time.Since(start)
			var res plans.ImportResult
			if err := json.Unmarshal(raw, &res); err != nil {
				return err
			}
			refused := res.DryRun && res.ErrorCount > 0 && !skipInvalid
			if refused && g.output == "json" {
				// As the import itself would answer: {"error": {…, "details": ImportResult}}.
				msg := count(res.ErrorCount, "problem", "problems") + ": the import would be refused"
				printErrorJSON(c.out, "invalid", msg, res)
				return errors.New(msg)
			}
			// Renames through a phone match need --allow-renames: a dry run
			// without it says that the import would be refused, as the
			// import itself answers (409, conflict).
			renameRefused := res.DryRun && res.RenamedCount > 0 && !allowRenames && !refused
			renameMsg := count(res.RenamedCount, "person", "people") + " would be renamed through a phone match: the import would be refused without --allow-renames"
			if renameRefused && g.output == "json" {
				printErrorJSON(c.out, "conflict", renameMsg, res)
				return errors.New(renameMsg)
			}
			err = c.print(raw, func(raw []byte, w io.Writer) error {
				verb := "imported"
				if res.DryRun {
					verb = "dry run, nothing changed"
				}
				if refused || renameRefused {
					// The counts are those of the good rows: as it is, the
					// file changes nothing (exploratory finding I2: "created
					// 2 … skipped 0" read as done, then "would be refused";
					// Y15: "updated 1" then refused for a rename).
					// A rename refuses the import with --skip-invalid
					// too: the advice names both flags it needs.
					flags := "--skip-invalid"
					switch {
					case !refused:
						flags = "--allow-renames"
					case res.RenamedCount > 0 && !allowRenames:
						flags = "--skip-invalid --allow-renames"
					}
					fmt.Fprintf(w, "%s: %s (%s %s) in %.1fs: would be refused as it is, so nothing would change; with %s it would create %d, update %d, leave %d unchanged and skip %d\n",
						verb, count(res.Rows, "row", "rows"), res.Format, res.Encoding, took.Seconds(), flags, res.Created, res.Updated, res.Unchanged,
						max(res.Rows-res.Created-res.Updated-res.Unchanged, 0))
				} else {
					fmt.Fprintf(w, "%s: %s (%s %s) in %.1fs: created %d, updated %d, unchanged %d, skipped %d\n",
						verb, count(res.Rows, "row", "rows"), res.Format, res.Encoding, took.Seconds(), res.Created, res.Updated, res.Unchanged, res.Skipped)
				}
				if len(res.Kept) > 0 && res.Updated > 0 {
					fmt.Fprintf(w, "no column for %s: the people updated keep theirs\n", strings.Join(res.Kept, ", "))
				}
				printRenames(w, res.Renamed, res.RenamedCount, res.DryRun)
				if refused && res.RenamedCount > 0 && !allowRenames {
					fmt.Fprintf(w, "with --skip-invalid alone the import would still be refused: %s would be renamed through a phone match; check that each number is still that person's, or give the rows their 编号 (external ID)\n",
						count(res.RenamedCount, "person", "people"))
				}
				if renameRefused {
					fmt.Fprintln(w, "the import would be refused: check that each number is still that person's; to rename them as the file says, add --allow-renames, or give the rows their 编号 (external ID)")
				}
				printRowErrors(w, res.Errors, res.ErrorCount)
				return nil
			})
			if err != nil {
				return err
			}
			if refused {
				return fmt.Errorf("%s: the import would be refused", count(res.ErrorCount, "problem", "problems"))
			}
			if renameRefused {
				return errors.New(renameMsg)
			}
			return nil
		},
	}
	imp.Flags().StringVarP(&file, "file", "f", "", "CSV or XLSX file (- for stdin)")
	imp.Flags().BoolVar(&dryRun, "dry-run", false, "check and count, change nothing")
	imp.Flags().BoolVar(&skipInvalid, "skip-invalid", false, "import the good rows, report the bad ones")
	imp.Flags().BoolVar(&allowRenames, "allow-renames", false, "rename the people that rows without an 编号 match by phone but name otherwise (listed either way)")

	var n int
	var seed int64
	var out, prefix string
	gen := &cobra.Command{
		Use:   "generate -n N [--seed S] [--id-prefix P] [--out FILE]",
		Short: "Write a deterministic demo roster for the demo city (valid, unique phone numbers)",
		Long: `Write a deterministic demo roster for the demo city as CSV (UTF-8, Chinese
headers) to --out, or to standard output: valid, unique phone numbers, the
same file for the same --seed. Each row's 编号 is --id-prefix and seven
digits (P0000001…); the demo roster of muster dev uses P, so a file meant to
add people to it needs another prefix, or its rows update the demo people.
The file is CSV whatever its name, so an --out ending in .xlsx or .xls is
refused.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 0 {
				return usageErrorf("--people %d: want 0 or more", n)
			}
			if !examples.ValidIDPrefix(prefix) {
				return usageErrorf("--id-prefix %q: want 1 to 8 letters, digits or -", prefix)
			}
			if ext := strings.ToLower(filepath.Ext(out)); ext == ".xlsx" || ext == ".xls" {
				return usageErrorf("--out %q: roster generate writes CSV, not a spreadsheet; name the file .csv", out)
			}
			regions, err := examples.Regions()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return examples.GenerateRosterIDs(w, n, seed, examples.Grids(regions), prefix)
		},
	}
	gen.Flags().IntVarP(&n, "people", "n", 1000, "number of people")
	gen.Flags().Int64Var(&seed, "seed", 1, "generator seed: the same seed gives the same file")
	gen.Flags().StringVar(&out, "out", "", "CSV file to write (default stdout)")
	gen.Flags().StringVar(&prefix, "id-prefix", "P", "编号 prefix, before seven digits (the demo roster's is P)")
	cmd.AddCommand(imp, gen)
	return cmd
}

// withRowErrors prints the per-row problems an import error carries (to
// stdout, as the report) and returns the one-line error.
func withRowErrors(c *client, err error) error {
	var ae *apiError
	if !errors.As(err, &ae) || len(ae.Details) == 0 {
		return err
	}
	if c.g.output == "json" {
		var v any
		if json.Unmarshal(ae.Details, &v) == nil {
			printErrorJSON(c.out, ae.Code, ae.Message, v)
		}
		return err
	}
	var res struct {
		Errors       []plans.RowError `json:"errors"`
		ErrorCount   int              `json:"error_count"`
		Renamed      []plans.Rename   `json:"renamed"`
		RenamedCount int              `json:"renamed_count"`
	}
	var rows []plans.RowError
	if json.Unmarshal(ae.Details, &res) == nil && (len(res.Errors) > 0 || len(res.Renamed) > 0) {
		rows = res.Errors
	} else if json.Unmarshal(ae.Details, &rows) != nil {
		return err
	}
	if res.ErrorCount == 0 {
		res.ErrorCount = len(rows)
	}
	w := newTable(c.out)
	printRenames(w, res.Renamed, res.RenamedCount, true)
	printRowErrors(w, rows, res.ErrorCount)
	w.Flush()
	return err
}

// printRenames lists the people an import renames (would, when not done)
// through a phone match: row, phone, old name → new name, and the grid
// when it changes too.
func printRenames(w io.Writer, renamed []plans.Rename, total int, would bool) {
	if len(renamed) == 0 {
		return
	}
	verb := "renamed"
	if would {
		verb = "would rename"
	}
	fmt.Fprintf(w, "%s %s matched by phone alone (the row has no 编号):\n", verb, count(total, "person", "people"))
	fmt.Fprintln(w, "ROW\tPHONE\tNAME\tGRID")
	for _, r := range renamed {
		grid := "-"
		if r.NewGrid != "" {
			grid = fmt.Sprintf("%s → %s", r.OldGrid, r.NewGrid)
		}
		fmt.Fprintf(w, "%d\t%s\t%s → %s\t%s\n", r.Row, r.Phone, r.OldName, r.NewName, grid)
	}
	if total > len(renamed) {
		fmt.Fprintf(w, "… and %d more\n", total-len(renamed))
	}
}

// postRoster sends the roster file named by -f (or stdin for "-") to the
// import, as postFile does, until ctx is done, and reports whether the
// whole file had been sent by then: read to its end and the request
// written to the node. A pipe, a FIFO or stdin has no size to go by, and
// may block in a read past Ctrl-C, so the file is read on its own and the
// request ends when ctx does.
func postRoster(ctx context.Context, c *client, name string, q url.Values) (raw []byte, sent bool, err error) {
	f, size, err := readInput(name)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	src := &eofReader{r: f}
	body := io.Reader(src)
	if size > 1<<20 && c.g.output == "table" {
		body = &progressReader{r: src, total: size, w: c.err, label: "uploading " + filepath.Base(name)}
	}
	pr, pw := io.Pipe()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, err := io.Copy(pw, body)
		pw.CloseWithError(err)
	}()
	stop := context.AfterFunc(ctx, func() { pr.CloseWithError(ctx.Err()) })
	defer stop()
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}})
	err = c.do(request{ctx: ctx, method: http.MethodPost, path: "/api/v1/roster/import", query: q, body: pr,
		contentType: "application/octet-stream", timeout: 30 * time.Minute}, &raw)
	sent = src.eof.Load() && wrote.Load()
	pr.CloseWithError(io.ErrClosedPipe)
	if name != "-" { // closing a file or a FIFO ends a read; stdin's ends with muster
		f.Close()
		<-copied
	}
	return raw, sent, err
}

// eofReader is a reader that records having been read to its end.
type eofReader struct {
	r   io.Reader
	eof atomic.Bool
}

func (e *eofReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err == io.EOF {
		e.eof.Store(true)
	}
	return n, err
}

// exitInterrupted is the exit code of a command stopped by Ctrl-C
// (128 + SIGINT, as a shell gives).
const exitInterrupted = 130

// interruptedImport is the error of a roster import interrupted (Ctrl-C)
// before its answer came: what became of the import, and how to see it.
func interruptedImport(file string, dryRun, sent bool) error {
	name := filepath.Base(file)
	if file == "-" {
		name = "standard input"
	}
	switch {
	case !sent:
		return &exitError{exitInterrupted, fmt.Errorf("interrupted while sending %s: the node did not get the whole file, so nothing was imported", name)}
	case dryRun:
		return &exitError{exitInterrupted, fmt.Errorf("interrupted: the dry run of %s changes nothing", name)}
	}
	return &exitError{exitInterrupted, fmt.Errorf("interrupted, but the node has the whole of %s: it goes on with the import to its end "+
		"(every row, or none if it refuses the file), which Ctrl-C cannot stop once the file is sent; "+
		"to see what it did: muster person list (the people of the file), or muster audit list (admins: an import.commit entry by you means it was applied)", name)}
}

func printRowErrors(w io.Writer, rows []plans.RowError, total int) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "ROW\tFIELD\tVALUE\tPROBLEM")
	for _, e := range rows {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", e.Row, e.Field, e.Value, e.Reason)
	}
	if total > len(rows) {
		fmt.Fprintf(w, "… and %d more\n", total-len(rows))
	}
}

// progressReader reports upload progress on a terminal line.
type progressReader struct {
	r         io.Reader
	total     int64
	done      int64
	w         io.Writer
	label     string
	lastPrint time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if time.Since(p.lastPrint) > 200*time.Millisecond || err == io.EOF {
		p.lastPrint = time.Now()
		pct := float64(p.done) * 100 / float64(max(p.total, 1))
		bar := strings.Repeat("█", int(pct/5)) + strings.Repeat("░", 20-int(pct/5))
		fmt.Fprintf(p.w, "\r%s %s %3.0f%% (%.1f/%.1f MB)", p.label, bar, pct, float64(p.done)/1e6, float64(p.total)/1e6)
		if err == io.EOF {
			fmt.Fprintln(p.w, " — server is checking and applying…")
		}
	}
	return n, err
}
