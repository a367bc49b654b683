package plans

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// MaxPlanFileSize is the largest plan file DecodePlan reads. A city's plan
// with four levels and dozens of roles is well under 50 KiB.
const MaxPlanFileSize = 256 << 10

// Nesting limits checked before parsing: the YAML parser slows down
// quadratically with nesting depth, and no plan needs more than a few levels.
const (
	maxFlowDepth = 32  // [ and { open at once
	maxIndent    = 256 // column of a line's first token, or of a "- " or "? " indicator
)

// maxNodes bounds the YAML values (after alias expansion) in one plan file.
const maxNodes = 100_000

// The file format. Every field is read as text and converted afterwards, so
// that a bad value is one Problem rather than the end of decoding.
type (
	planFile struct {
		ID          string     `yaml:"id"`
		Title       string     `yaml:"title"`
		TitleEN     string     `yaml:"title_en"`
		Hazard      string     `yaml:"hazard"`
		CAPCategory string     `yaml:"cap_category"`
		Scope       []string   `yaml:"scope"`
		Sender      string     `yaml:"sender"`
		GuardFactor *float64   `yaml:"guard_factor"`
		Drills      drillsFile `yaml:"drills"`
		Levels      levelsFile `yaml:"levels"`
	}
	drillsFile struct {
		Full         string `yaml:"full"`
		Notification string `yaml:"notification"`
	}
	levelsFile map[string]levelFile
	levelFile  struct {
		Name        string      `yaml:"name"`
		Criteria    string      `yaml:"criteria"`
		Approvals   *int        `yaml:"approvals"`
		Expected    *int        `yaml:"expected"`
		AckDeadline string      `yaml:"ack_deadline"`
		Groups      []groupFile `yaml:"groups"`
		SMS         string      `yaml:"sms"`
		Voice       string      `yaml:"voice"`
		SMSEN       string      `yaml:"sms_en"`
		VoiceEN     string      `yaml:"voice_en"`
		Escalation  []stepFile  `yaml:"escalation"`
		Checklist   []string    `yaml:"checklist"`
	}
	groupFile struct {
		Name  string     `yaml:"name"`
		Roles []roleFile `yaml:"roles"`
	}
	roleFile struct {
		Name    string       `yaml:"name"`
		NameEN  string       `yaml:"name_en"`
		Select  selectorFile `yaml:"select"`
		Reach   string       `yaml:"reach"`
		Count   *int         `yaml:"count"`
		MustAck bool         `yaml:"must_ack"`
	}
	selectorFile struct {
		Categories []string `yaml:"categories"`
		Tags       []string `yaml:"tags"`
		Teams      []string `yaml:"teams"`
		Regions    []string `yaml:"regions"`
	}
	stepFile struct {
		After string `yaml:"after"`
		Do    string `yaml:"do"`
	}
)

// pathKey names a level in field paths by its canonical code when it has one,
// so that "Ⅰ:" in a file is levels.I.
func (levelsFile) pathKey(k string) string {
	if c, err := ParseLevelCode(k); err == nil {
		return string(c)
	}
	return k
}

// pathKeyer is implemented by map types whose keys have a canonical spelling.
type pathKeyer interface{ pathKey(string) string }

// PlanText returns a plan file's text as UTF-8, as a text editor may have
// saved it: a byte order mark (Notepad's "UTF-8 with BOM", or UTF-16) is
// read and left out, and a file that is not UTF-8 is read as GBK (Chinese
// Windows' "ANSI"), as roster files are. Read as bytes, such a file would
// give every Chinese text of the plan, its SMS among them, as U+FFFD.
func PlanText(filename string, src []byte) ([]byte, error) {
	text, _, err := decodeText(src, "plan", "UTF-8")
	if err != nil {
		return nil, ProblemsError([]Problem{{File: filename, Line: 1, Message: reasonOf(err)}})
	}
	return text, nil
}

// DecodePlan reads one plan from a YAML file. filename is used only in
// messages. It decodes strictly (unknown fields are errors), converts and
// normalizes the plan and validates it (see Plan.Validate). On success the
// plan is normalized and valid. Otherwise the error is a *muster.Error with
// Code EInvalid, a Message naming the first problem as file:line: field:
// message, and Details of type []Problem listing every problem found, in file
// order. Region codes are checked for shape only; CheckReferences checks them
// against the region tree.
func DecodePlan(filename string, src []byte) (*Plan, error) {
	if len(src) > MaxPlanFileSize {
		return nil, ProblemsError([]Problem{{File: filename, Line: 1, Message: fmt.Sprintf("file is %d bytes: a plan file may have at most %d", len(src), MaxPlanFileSize)}})
	}
	src, err := PlanText(filename, src)
	if err != nil {
		return nil, err
	}
	doc, problems := parsePlanFile(src)
	if doc.body == nil || doc.fatal {
		return nil, ProblemsError(doc.finish(filename, problems))
	}
	var raw planFile
	opts := []yaml.DecodeOption{yaml.Strict()}
	if doc.unknownFields {
		// Every unknown field is already a problem; read the rest to find more.
		opts = nil
	}
	if err := guard(func() error { return yaml.NodeToValue(doc.body, &raw, opts...) }); err != nil {
		problems = append(problems, doc.yamlProblem(err))
		return nil, ProblemsError(doc.finish(filename, problems))
	}
	p, convProblems := raw.plan()
	problems = append(problems, convProblems...)
	p.canonicalize()
	for _, pr := range p.Validate() {
		// A value that could not be converted was left empty; say so only once.
		if !slices.ContainsFunc(convProblems, func(c Problem) bool { return c.Field == pr.Field }) {
			problems = append(problems, pr)
		}
	}
	if len(problems) > 0 {
		return nil, ProblemsError(doc.finish(filename, problems))
	}
	p.sortSets()
	return p, nil
}

// plan converts the file form, reporting values that cannot be converted.
func (f *planFile) plan() (*Plan, []Problem) {
	var problems []Problem
	bad := func(field, format string, args ...any) {
		problems = append(problems, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	duration := func(field, s string) Duration {
		s = strings.TrimSpace(s)
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			bad(field, "%q: want a duration such as 15m, 90s or 1h30m", s)
			return 0
		}
		return Duration(d)
	}
	p := &Plan{
		ID:          PlanID(f.ID),
		Title:       f.Title,
		TitleEN:     f.TitleEN,
		Hazard:      Hazard(f.Hazard),
		CAPCategory: CAPCategory(f.CAPCategory),
		Sender:      f.Sender,
	}
	if f.GuardFactor != nil {
		p.GuardFactor = *f.GuardFactor
		if p.GuardFactor == 0 {
			bad("guard_factor", "0: want 1 to 100, or leave it out for %g", DefaultGuardFactor)
		}
	}
	for _, c := range f.Scope {
		p.Scope = append(p.Scope, RegionCode(c))
	}
	period := func(field, s string) Period {
		if strings.TrimSpace(s) == "" {
			return Period{} // the default
		}
		v, reason := parsePeriod(s)
		if reason != "" {
			bad(field, "%q: %s", s, reason)
		}
		return v
	}
	p.Drills.Full = period("drills.full", f.Drills.Full)
	p.Drills.Notification = period("drills.notification", f.Drills.Notification)
	// Levels in canonical order; a level given twice was reported by the walk.
	keys := make([]string, 0, len(f.Levels))
	for k := range f.Levels {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ka, kb := f.Levels.pathKey(a), f.Levels.pathKey(b)
		return cmp.Or(cmp.Compare(LevelCode(ka).Rank()-1, LevelCode(kb).Rank()-1), cmp.Compare(ka, kb), cmp.Compare(a, b))
	})
	seen := map[string]bool{}
	for _, k := range keys {
		code := f.Levels.pathKey(k)
		if seen[code] {
			continue
		}
		seen[code] = true
		lf := f.Levels[k]
		path := "levels." + code
		l := Level{
			Code:        LevelCode(code),
			Name:        lf.Name,
			Criteria:    lf.Criteria,
			AckDeadline: duration(path+".ack_deadline", lf.AckDeadline),
			SMS:         lf.SMS,
			Voice:       lf.Voice,
			SMSEN:       lf.SMSEN,
			VoiceEN:     lf.VoiceEN,
			Checklist:   lf.Checklist,
		}
		if lf.Approvals != nil {
			if *lf.Approvals < 1 {
				bad(path+".approvals", "%d: want 1 to %d, or leave it out for the default", *lf.Approvals, MaxApprovals)
			}
			l.Approvals = *lf.Approvals
		}
		if lf.Expected != nil {
			if *lf.Expected < 1 {
				bad(path+".expected", "%d: want the number of people a usual activation of this level calls, or leave it out", *lf.Expected)
			}
			l.Expected = *lf.Expected
		}
		for _, gf := range lf.Groups {
			g := Group{Name: gf.Name}
			for _, rf := range gf.Roles {
				r := Role{Name: rf.Name, NameEN: rf.NameEN, Reach: Reach(rf.Reach), Count: 1, MustAck: rf.MustAck}
				if rf.Count != nil {
					r.Count = *rf.Count
				}
				for _, c := range rf.Select.Categories {
					r.Select.Categories = append(r.Select.Categories, Category(c))
				}
				r.Select.Tags = rf.Select.Tags
				r.Select.Teams = rf.Select.Teams
				for _, c := range rf.Select.Regions {
					r.Select.Regions = append(r.Select.Regions, RegionCode(c))
				}
				g.Roles = append(g.Roles, r)
			}
			l.Groups = append(l.Groups, g)
		}
		for i, sf := range lf.Escalation {
			l.Escalation = append(l.Escalation, EscalationStep{
				After: duration(fmt.Sprintf("%s.escalation[%d].after", path, i), sf.After),
				Do:    EscalationAction(sf.Do),
			})
		}
		p.Levels = append(p.Levels, l)
	}
	return p, problems
}

// position is where a value starts in the file.
type position struct {
	line, col int
	value     string // the scalar's text, for list elements
}

// planDoc is a parsed plan file with the positions of its values.
type planDoc struct {
	body          ast.Node
	fatal         bool                // the file cannot be decoded at all
	unknownFields bool                // some problems are unknown fields
	pos           map[string]position // field path → position of its key or list element
	paths         []string            // the keys of pos in the order met
	anchors       map[string]ast.Node
	nodes         int
}

// parsePlanFile parses src and walks its first document against planFile,
// recording positions and reporting syntax errors, unknown fields and values
// of the wrong shape.
func parsePlanFile(src []byte) (*planDoc, []Problem) {
	d := &planDoc{pos: map[string]position{}, anchors: map[string]ast.Node{}}
	var pr Problem
	var deep bool
	var f *ast.File
	err := guard(func() error {
		if pr, deep = tooDeep(src); deep {
			return nil
		}
		var err error
		f, err = parser.ParseBytes(src, 0)
		return err
	})
	if deep {
		d.fatal = true
		return d, []Problem{pr}
	}
	if err != nil {
		d.fatal = true
		return d, []Problem{d.yamlProblem(err)}
	}
	var problems []Problem
	for i, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if d.body != nil {
			line, col := nodePos(doc.Body)
			problems = append(problems, Problem{Line: line, Column: col, Message: fmt.Sprintf("a plan file holds one YAML document; document %d starts here", i+1)})
			d.fatal = true
			break
		}
		d.body = doc.Body
	}
	if d.body == nil {
		return d, append(problems, Problem{Line: 1, Message: "empty file: want a plan with id, title, hazard, cap_category, scope and levels"})
	}
	w := walker{doc: d}
	if err := guard(func() error { w.walk(d.body, reflect.TypeFor[planFile](), ""); return nil }); err != nil {
		w.problems = append(w.problems, d.yamlProblem(err))
		w.shapeErrors = true
	}
	problems = append(problems, w.problems...)
	if w.shapeErrors {
		d.fatal = true
	}
	d.unknownFields = w.unknownFields
	return d, problems
}

// guard runs f, turning a panic in the YAML library on odd input into an
// error, so that a bad file is a problem rather than a crashed server.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML reader failed on this input (%v): simplify the file around here", r)
		}
	}()
	return f()
}

// tooDeep reports the first place where src nests deeper than a plan ever
// needs, from the tokens alone (tokenizing takes linear time).
func tooDeep(src []byte) (Problem, bool) {
	depth, lastLine := 0, 0
	for _, tk := range lexer.Tokenize(string(src)) {
		if tk.Position == nil {
			continue
		}
		line, col := tk.Position.Line, tk.Position.Column
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			depth++
			if depth > maxFlowDepth {
				return Problem{Line: max(line, 1), Column: col, Message: fmt.Sprintf("more than %d nested [ ] or { }: a plan never nests this deep", maxFlowDepth)}, true
			}
		case token.SequenceEndType, token.MappingEndType:
			depth = max(depth-1, 0)
		}
		first := line != lastLine
		lastLine = line
		if col > maxIndent && (first || tk.Type == token.SequenceEntryType || tk.Type == token.MappingKeyType) {
			return Problem{Line: max(line, 1), Column: col, Message: fmt.Sprintf("nested beyond column %d: a plan never nests this deep", maxIndent)}, true
		}
	}
	return Problem{}, false
}

// yamlProblem turns a parse or decode error into a Problem with its position.
func (d *planDoc) yamlProblem(err error) Problem {
	var ye yaml.Error
	if errors.As(err, &ye) {
		pr := Problem{Line: 1, Message: ye.GetMessage()}
		if strings.Contains(pr.Message, "character '\t'") {
			// The parser's message quotes the tab itself, which a terminal
			// shows as a space: "found character ' ' that cannot start any token".
			pr.Message = "a tab: YAML indents with spaces, never tabs; replace the tab with spaces"
		}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			pr.Line, pr.Column = max(tk.Position.Line, 1), tk.Position.Column
			pr.Field = d.fieldAt(pr.Line, pr.Column)
		}
		return pr
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return Problem{Line: 1, Message: msg}
}

// fieldAt is the path of the last value that starts at or before line:col.
func (d *planDoc) fieldAt(line, col int) string {
	best, bestPos := "", position{}
	for _, p := range d.paths {
		at := d.pos[p]
		if at.line < line || at.line == line && at.col <= col {
			if at.line > bestPos.line || at.line == bestPos.line && at.col >= bestPos.col {
				best, bestPos = p, at
			}
		}
	}
	return best
}

// locate returns the position of field, or of its nearest ancestor that the
// file has (a missing field is reported where its parent is).
func (d *planDoc) locate(field string) (position, bool) {
	for f := field; f != ""; {
		if at, ok := d.pos[f]; ok {
			return at, true
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return position{}, false
}

// finish gives each problem its file and, where missing, its position, and
// sorts them in file order without duplicates.
func (d *planDoc) finish(filename string, problems []Problem) []Problem {
	for i := range problems {
		pr := &problems[i]
		pr.File = filename
		if pr.Line == 0 {
			if at, ok := d.locate(pr.Field); ok {
				pr.Line, pr.Column = at.line, at.col
			} else if d.body != nil {
				pr.Line, pr.Column = 1, 1
				if line, _ := nodePos(d.body); line > 0 {
					pr.Line = line
				}
			} else {
				pr.Line = 1
			}
		}
	}
	slices.SortStableFunc(problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return slices.Compact(problems)
}

// walker checks the AST against the file types.
type walker struct {
	doc           *planDoc
	problems      []Problem
	unknownFields bool // an unknown field was found
	shapeErrors   bool // a value has the wrong shape: decoding would fail
	stopped       bool
}

func (w *walker) problem(n ast.Node, field, format string, args ...any) {
	line, col := nodePos(n)
	w.problems = append(w.problems, Problem{Line: line, Column: col, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (w *walker) record(path string, n ast.Node, value string) {
	if _, ok := w.doc.pos[path]; ok {
		return // a merge or alias may visit a path again; keep the first
	}
	line, col := nodePos(n)
	w.doc.pos[path] = position{line: line, col: col, value: value}
	w.doc.paths = append(w.doc.paths, path)
}

// standardTags are the YAML tags a plan file may carry.
var standardTags = map[string]bool{
	"!!str": true, "!!int": true, "!!bool": true, "!!float": true, "!!null": true, "!!seq": true, "!!map": true,
	"tag:yaml.org,2002:str": true, "tag:yaml.org,2002:int": true, "tag:yaml.org,2002:bool": true,
	"tag:yaml.org,2002:float": true, "tag:yaml.org,2002:null": true, "tag:yaml.org,2002:seq": true, "tag:yaml.org,2002:map": true,
}

// resolve follows tags, anchors and aliases to the value node. It returns nil
// (after reporting) for an alias to an unknown anchor.
func (w *walker) resolve(n ast.Node, path string) ast.Node {
	for range 64 {
		switch v := n.(type) {
		case *ast.TagNode:
			tag := ""
			if v.Start != nil {
				tag = v.Start.Value
			}
			if !standardTags[tag] {
				w.problem(v, path, "tag %s: a plan uses no tags other than the standard !!str, !!int, !!bool, !!float, !!null, !!seq and !!map", tag)
				w.shapeErrors = true
				return nil
			}
			if v.Value == nil {
				return nil
			}
			n = v.Value
		case *ast.AnchorNode:
			if v.Name != nil {
				w.doc.anchors[v.Name.GetToken().Value] = v.Value
			}
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if v.Value != nil {
				name = v.Value.GetToken().Value
			}
			target, ok := w.doc.anchors[name]
			if !ok {
				w.problem(v, path, "alias *%s refers to no anchor defined before it", name)
				w.shapeErrors = true
				return nil
			}
			n = target
		default:
			return n
		}
		if n == nil {
			return nil
		}
	}
	w.problem(n, path, "aliases nest too deeply")
	w.shapeErrors = true
	return nil
}

func (w *walker) walk(n ast.Node, t reflect.Type, path string) {
	if w.stopped || n == nil {
		return
	}
	w.doc.nodes++
	if w.doc.nodes > maxNodes {
		w.problem(n, path, "the file has more than %d values (after expanding aliases)", maxNodes)
		w.shapeErrors, w.stopped = true, true
		return
	}
	orig := n
	if n = w.resolve(n, path); n == nil {
		return
	}
	if _, null := n.(*ast.NullNode); null {
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		w.walk(orig, t.Elem(), path)
	case reflect.String:
		switch n.(type) {
		case *ast.StringNode, *ast.LiteralNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		default:
			w.shape(orig, path, "want text, not %s", describe(n))
		}
	case reflect.Int:
		v, ok := n.(*ast.IntegerNode)
		if !ok {
			w.shape(orig, path, "want a whole number, not %s", describe(n))
			return
		}
		switch x := v.Value.(type) {
		case int64:
			if x < math.MinInt || x > math.MaxInt {
				w.shape(orig, path, "%d is out of range", x)
			}
		case uint64:
			if x > math.MaxInt {
				w.shape(orig, path, "%d is out of range", x)
			}
		default:
			w.shape(orig, path, "want a whole number, not %s", describe(n))
		}
	case reflect.Bool:
		if _, ok := n.(*ast.BoolNode); !ok {
			w.shape(orig, path, "want true or false, not %s", describe(n))
		}
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			w.shape(orig, path, "want a list such as [a, b], not %s", describe(n))
			return
		}
		for i, e := range seq.Values {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.record(p, e, scalarText(w.peek(e)))
			w.walk(e, t.Elem(), p)
		}
	case reflect.Map:
		values, ok := mappingValues(n)
		if !ok {
			w.shape(orig, path, "want a mapping of key: value, not %s", describe(n))
			return
		}
		keyer, _ := reflect.Zero(t).Interface().(pathKeyer)
		firstKey := map[string]ast.Node{}
		for _, mv := range values {
			k := keyText(mv.Key)
			name := k
			if keyer != nil {
				name = keyer.pathKey(k)
			}
			p := join(path, name)
			if prev, dup := firstKey[name]; dup {
				line, _ := nodePos(prev)
				w.problem(mv.Key, p, "%q means the same as the key at line %d: give each only once", k, line)
				continue
			}
			firstKey[name] = mv.Key
			w.record(p, mv.Key, "")
			w.walk(mv.Value, t.Elem(), p)
		}
	case reflect.Struct:
		values, ok := mappingValues(n)
		if !ok {
			w.shape(orig, path, "want a mapping of field: value, not %s", describe(n))
			return
		}
		fields := yamlFields(t)
		for _, mv := range values {
			if _, merge := mv.Key.(*ast.MergeKeyNode); merge {
				w.walkMerge(mv.Value, t, path)
				continue
			}
			k := keyText(mv.Key)
			p := join(path, k)
			f, known := fields[k]
			if !known {
				w.unknownFields = true
				w.problem(mv.Key, p, "unknown field %q%s", k, suggest(k, t))
				continue
			}
			w.record(p, mv.Key, "")
			w.walk(mv.Value, f.Type, p)
		}
	}
}

// walkMerge walks the value of a "<<" merge key: a mapping or a list of them.
func (w *walker) walkMerge(n ast.Node, t reflect.Type, path string) {
	if n = w.resolve(n, path); n == nil {
		return
	}
	if seq, ok := n.(*ast.SequenceNode); ok {
		for _, e := range seq.Values {
			w.walk(e, t, path)
		}
		return
	}
	w.walk(n, t, path)
}

// peek resolves n without reporting, for recording scalar text.
func (w *walker) peek(n ast.Node) ast.Node {
	for range 64 {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			if v.Value == nil {
				return nil
			}
			n = w.doc.anchors[v.Value.GetToken().Value]
		default:
			return n
		}
		if n == nil {
			return nil
		}
	}
	return nil
}

func (w *walker) shape(n ast.Node, path, format string, args ...any) {
	w.shapeErrors = true
	w.problem(n, path, format, args...)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mappingValues returns the key-value pairs of a mapping node.
func mappingValues(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch m := n.(type) {
	case *ast.MappingNode:
		return m.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{m}, true
	}
	return nil, false
}

// keyText is a mapping key as text.
func keyText(k ast.MapKeyNode) string {
	var n ast.Node = k
	if mk, ok := k.(*ast.MappingKeyNode); ok && mk.Value != nil {
		n = mk.Value
	}
	return scalarText(n)
}

// scalarText is the text of a scalar node, "" for anything else.
func scalarText(n ast.Node) string {
	switch v := n.(type) {
	case nil:
		return ""
	case *ast.StringNode:
		return v.Value
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value
		}
		return ""
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		return ""
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

// nodePos is where n starts, 1-based (0, 0 when unknown).
func nodePos(n ast.Node) (int, int) {
	if n == nil {
		return 0, 0
	}
	if m, ok := n.(*ast.MappingNode); ok && len(m.Values) > 0 && !m.IsFlowStyle {
		n = m.Values[0]
	}
	if mv, ok := n.(*ast.MappingValueNode); ok && mv.Key != nil {
		n = mv.Key
	}
	var tk *token.Token
	func() {
		defer func() { _ = recover() }() // GetToken of a malformed node must not stop decoding
		tk = n.GetToken()
	}()
	if tk == nil || tk.Position == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

// describe names a node's kind for messages.
func describe(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.BoolNode:
		return "true/false"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	}
	return fmt.Sprintf("text %q", truncate(scalarText(n), 40))
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// yamlFields maps the yaml names of t's fields to the fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := make(map[string]reflect.StructField, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			out[name] = f
		}
	}
	return out
}

// suggest proposes the closest known field name for an unknown one.
func suggest(k string, t reflect.Type) string {
	names := slices.Sorted(func(yield func(string) bool) {
		for name := range yamlFields(t) {
			if !yield(name) {
				return
			}
		}
	})
	if best, ok := closest(k, names, 1); ok {
		return fmt.Sprintf(": did you mean %q?", best)
	}
	return ": want one of " + strings.Join(names, ", ")
}

// closest is the name among names nearest to k, case aside (editDistance),
// and whether it is near enough to be meant: at most slack edits, or a
// third of its length.
func closest(k string, names []string, slack int) (string, bool) {
	best, bestD := "", math.MaxInt
	for _, name := range names {
		if d := editDistance(strings.ToLower(k), strings.ToLower(name)); d < bestD {
			best, bestD = name, d
		}
	}
	return best, best != "" && bestD <= max(slack, len(best)/3)
}

// editDistance is the Levenshtein distance between a and b in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return math.MaxInt / 2
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			c := 1
			if ra[i-1] == rb[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// CheckReferences reports the region codes in the plan's scope and selectors
// that do not exist according to regionExists, one Problem per occurrence,
// located in src (the file the plan was decoded from) when it is given. It is
// meant for the server at apply time, where the region tree is known; a nil
// result means every code exists.
func (p *Plan) CheckReferences(filename string, src []byte, regionExists func(RegionCode) bool) []Problem {
	var doc *planDoc
	if src != nil && len(src) <= MaxPlanFileSize {
		doc, _ = parsePlanFile(src)
	}
	var problems []Problem
	check := func(listPath, fallback string, codes []RegionCode) {
		for i, c := range codes {
			if regionExists(c) {
				continue
			}
			pr := Problem{File: filename, Field: fmt.Sprintf("%s[%d]", fallback, i),
				Message: fmt.Sprintf("region %s does not exist: add it to the region tree or correct the code", c)}
			if doc != nil {
				if path, at, ok := doc.findValue(listPath, string(c)); ok {
					pr.Field, pr.Line, pr.Column = path, at.line, at.col
				}
			}
			problems = append(problems, pr)
		}
	}
	check("scope", "scope", p.Scope)
	for _, l := range p.Levels {
		for gi, g := range l.Groups {
			for ri, r := range g.Roles {
				path := fmt.Sprintf("levels.%s.groups[%d].roles[%d].select.regions", l.Code, gi, ri)
				check(path, path, r.Select.Regions)
			}
		}
	}
	slices.SortStableFunc(problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return problems
}

// findValue finds the element of the list at listPath whose text is value.
func (d *planDoc) findValue(listPath, value string) (string, position, bool) {
	for _, p := range d.paths {
		rest, ok := strings.CutPrefix(p, listPath+"[")
		if !ok || !strings.HasSuffix(rest, "]") {
			continue
		}
		if _, err := strconv.Atoi(strings.TrimSuffix(rest, "]")); err != nil {
			continue
		}
		if at := d.pos[p]; strings.TrimSpace(at.value) == value {
			return p, at, true
		}
	}
	return "", position{}, false
}
