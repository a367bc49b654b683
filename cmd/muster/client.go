package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"muster"
)

// client talks to the muster HTTP API.
type client struct {
	g    *globals
	http *http.Client
	out  io.Writer
	err  io.Writer
}

func newClient(g *globals, cmd *cobra.Command) *client {
	return &client{g: g, http: &http.Client{}, out: cmd.OutOrStdout(), err: cmd.ErrOrStderr()}
}

// apiError is the API's error shape, kept whole so callers can show details.
type apiError struct {
	Status  int             `json:"-"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details,omitempty"`
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return localTimes(e.Message)
}

// request describes one API call.
type request struct {
	method      string
	path        string
	query       url.Values
	body        io.Reader
	contentType string
	timeout     time.Duration
	header      map[string]string // more request headers
	answer      *http.Header      // if set, receives the answer's headers
	ctx         context.Context   // if set, ends the request when done
}

// postJSON posts body as JSON to path and decodes the answer into out.
func (c *client) postJSON(path string, body, out any) error {
	return c.do(request{method: http.MethodPost, path: path, body: bytes.NewReader(mustJSON(body)), contentType: "application/json"}, out)
}

// do sends the request and decodes a 2xx JSON reply into out (raw bytes when
// out is *[]byte). Non-2xx replies become *apiError.
func (c *client) do(r request, out any) error {
	timeout := r.timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	parent := r.ctx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	q := r.query
	if q == nil {
		q = url.Values{}
	}
	if c.g.consistency != "" && r.method == http.MethodGet {
		q.Set("consistency", c.g.consistency)
	}
	u := strings.TrimRight(c.g.addr, "/") + r.path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, r.body)
	if err != nil {
		return err
	}
	if c.g.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.g.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach muster at %s: %w", c.g.addr, err)
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return c.refusal(res)
	}
	if r.answer != nil {
		*r.answer = res.Header
	}
	switch o := out.(type) {
	case nil:
		_, err = io.Copy(io.Discard, res.Body)
		return err
	case io.Writer:
		_, err = io.Copy(o, res.Body)
		return err
	case *[]byte:
		*o, err = io.ReadAll(res.Body)
		return err
	default:
		err = json.NewDecoder(res.Body).Decode(out)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("the answer of %s %s was cut short", r.method, r.path)
		}
		return err
	}
}

// unreadableAnswer says, in words a person can act on, that the CLI could
// not read an answer of the node, in place of encoding/json's words, which
// name Go types and fields ("cannot unmarshal number into Go struct field
// Activation.level of type plans.LevelCode"). Other errors are returned
// as they are.
func unreadableAnswer(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Errorf("cannot read the node's answer: %q is a JSON %s, which this muster does not read there; is --addr a node of the same muster version?", te.Field, te.Value)
	case errors.As(err, &se):
		return errors.New("the node's answer is not JSON: is --addr a muster node?")
	}
	return err
}

// get fetches path and prints it: JSON as the API returned it, or a table.
func (c *client) get(path string, query url.Values, table func(raw []byte, w io.Writer) error) error {
	var raw []byte
	if err := c.do(request{method: http.MethodGet, path: path, query: query}, &raw); err != nil {
		return err
	}
	return c.print(raw, table)
}

// print writes raw API JSON in the chosen format.
func (c *client) print(raw []byte, table func(raw []byte, w io.Writer) error) error {
	if c.g.output == "json" || table == nil {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	w := newTable(c.out)
	if err := table(raw, w); err != nil {
		return err
	}
	return w.Flush()
}

// printErrorJSON writes, with -o json, what explains a failure (a plan's
// problems, an import's bad rows) to standard output in the API's error
// shape, {"error": {"code", "message", "details"}}, before the one-line
// error goes to standard error.
func printErrorJSON(w io.Writer, code, message string, details any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]any{"error": map[string]any{"code": code, "message": message, "details": details}})
}

// pageQuery adds the shared list flags to a query.
type pageFlags struct {
	limit int
	after string
	all   bool
}

func (p *pageFlags) add(cmd *cobra.Command) {
	p.limit = 100
	cmd.Flags().Var(pageLimit{&p.limit}, "limit", fmt.Sprintf("items per page (1 to %d)", maxPageLimit))
	cmd.Flags().StringVar(&p.after, "after", "", "cursor from a previous page's next")
	cmd.Flags().BoolVar(&p.all, "all", false, "follow next cursors and print every page")
}

// pages fetches one page of a list, or every page with --all, and returns
// the items with the cursor of the page after the last one fetched.
func (c *client) pages(path string, query url.Values, p *pageFlags) ([]json.RawMessage, string, error) {
	if query == nil {
		query = url.Values{}
	}
	query.Set("limit", fmt.Sprint(p.limit))
	after := p.after
	items := []json.RawMessage{} // an empty list prints as [], as the API gives it
	next := ""
	for {
		if after != "" {
			query.Set("after", after)
		}
		var page struct {
			Items []json.RawMessage `json:"items"`
			Next  string            `json:"next"`
		}
		if err := c.do(request{method: http.MethodGet, path: path, query: query}, &page); err != nil {
			return nil, "", err
		}
		items = append(items, page.Items...)
		next = page.Next
		if !p.all || next == "" {
			return items, next, nil
		}
		after = next
	}
}

// list fetches one page, or every page with --all, and prints the items.
func (c *client) list(path string, query url.Values, p *pageFlags, header string, row func(item json.RawMessage) (string, error)) error {
	return c.listAll(path, query, p, header, nil, row)
}

// listAll is list with a look at every item listed before the first row
// is written (seen, if not nil), for a table whose rows share a choice made
// from all of them, such as the zone of its times.
func (c *client) listAll(path string, query url.Values, p *pageFlags, header string, seen func(items []json.RawMessage) error, row func(item json.RawMessage) (string, error)) error {
	items, next, err := c.pages(path, query, p)
	if err != nil {
		return err
	}
	if c.g.output == "json" {
		raw, _ := json.Marshal(map[string]any{"items": items, "next": next})
		return c.print(raw, nil)
	}
	if seen != nil {
		if err := seen(items); err != nil {
			return err
		}
	}
	w := newTable(c.out)
	fmt.Fprintln(w, header)
	for _, it := range items {
		line, err := row(it)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, line)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(c.err, "more: --after %s (or --all)\n", next)
	}
	return nil
}

// readInput opens a file argument; "-" is standard input.
func readInput(name string) (io.ReadCloser, int64, error) {
	if name == "" {
		return nil, 0, usageErrorf("-f FILE is required")
	}
	if name == "-" {
		return io.NopCloser(os.Stdin), -1, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

func joinList(v []string) string {
	if len(v) == 0 {
		return "-"
	}
	return strings.Join(v, ",")
}

// postFile sends the file named by -f (or stdin for "-") as the body of a
// POST to path and returns the raw reply. Files over 1 MB show upload
// progress on stderr in table mode.
func (c *client) postFile(name, path string, q url.Values, contentType string, timeout time.Duration) ([]byte, error) {
	f, size, err := readInput(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	body := io.Reader(f)
	if size > 1<<20 && c.g.output == "table" {
		body = &progressReader{r: f, total: size, w: c.err, label: "uploading " + filepath.Base(name)}
	}
	var raw []byte
	err = c.do(request{method: http.MethodPost, path: path, query: q, body: body, contentType: contentType, timeout: timeout}, &raw)
	return raw, err
}

// noToken is what a node's 401 means when no token was sent: the person
// forgot --token, or to export MUSTER_TOKEN in this shell. The node's own
// words are about the HTTP header the CLI did not send.
const noToken = "no API token: give --token mst_… or set MUSTER_TOKEN (muster dev prints its admin token when it starts and keeps it in DATA-DIR/admin-token; an admin makes more with muster token create)"

// refusal is responseError, saying what to do when the node refused a
// request for want of a token the CLI was not given.
func (c *client) refusal(res *http.Response) *apiError {
	e := responseError(res)
	if e.Status == http.StatusUnauthorized && strings.TrimSpace(c.g.token) == "" {
		e.Message = noToken
	}
	if e.Status == http.StatusServiceUnavailable && res.Request != nil && res.Request.Method == http.MethodGet &&
		res.Request.URL.Query().Get("consistency") != string(muster.Stale) {
		// No leader to read through: the node's own copy still answers,
		// which a commander watching a call-up through an outage needs.
		e.Message += "; this node's own copy, which may be behind, answers without a leader: add --consistency stale"
	}
	return e
}

// clientAddr is --addr as the base of the API's URLs: HOST:PORT, which is
// what people type for an address, is taken as http://HOST:PORT; anything
// else must be an http or https URL with a host; empty is the default.
// name is what set it (--addr or MUSTER_ADDR), for the error.
func clientAddr(name, addr string) (string, error) {
	s := strings.TrimSpace(addr)
	if s == "" {
		return defaultAddr, nil
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", usageErrorf("%s %q: want a URL such as %s (or HOST:PORT)", name, addr, defaultAddr)
	}
	return strings.TrimRight(s, "/"), nil
}

// responseError reads an error response: the API's {"error": {...}} shape,
// or the status and the body as text when it is not that.
func responseError(res *http.Response) *apiError {
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var e struct {
		Error *apiError `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error != nil {
		e.Error.Status = res.StatusCode
		return e.Error
	}
	return &apiError{Status: res.StatusCode, Message: fmt.Sprintf("HTTP %d: %s", res.StatusCode, strings.TrimSpace(string(data)))}
}
