package drills

import (
	"bufio"
	"cmp"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"muster/notify"
	"muster/plans"
)

// ReportFormat is the form `muster drill report` writes a run's report in.
type ReportFormat string

// Report formats.
const (
	// FormatHTML is a self-contained page (inline CSS and SVG, no external
	// asset or link) that prints on A4.
	FormatHTML ReportFormat = "html"
	// FormatCSV is one table for a spreadsheet, UTF-8 with a byte order
	// mark so Excel shows Chinese: a header row, then one row per
	// recipient in person ID order (see WriteReport for the columns).
	FormatCSV ReportFormat = "csv"
	// FormatJSON is the Metrics struct, indented.
	FormatJSON ReportFormat = "json"
)

// ParseReportFormat accepts html, csv or json.
func ParseReportFormat(s string) (ReportFormat, error) {
	switch f := ReportFormat(strings.ToLower(strings.TrimSpace(s))); f {
	case "":
		return FormatHTML, nil
	case FormatHTML, FormatCSV, FormatJSON:
		return f, nil
	}
	return "", invalidf("report format %q: want html, csv or json", s)
}

// DefaultMaxPeople is how many people who never answered the HTML report
// lists by name; the CSV report has everyone.
const DefaultMaxPeople = 500

// maxBars is how many grids the HTML report draws bars for: all of them up
// to this many, else this many with the lowest acknowledgement rate.
const maxBars = 40

// ReportOptions say how a report is written.
type ReportOptions struct {
	// Lang is the report's language: zh (the default) or en. Names that
	// come from the state (regions, roles, people) are shown as stored.
	Lang plans.Language
	// Location is the time zone times are shown in; nil: the report's
	// TimeZone (its schedule's), else DefaultTimeZone.
	Location *time.Location
	// MaxPeople bounds the people who never answered listed in the HTML
	// report (0: DefaultMaxPeople; negative: no bound).
	MaxPeople int
}

// WriteReport writes the report of a drill run in format f.
//
// The CSV has one row per recipient with these columns (headers in the
// report's language): person ID, name, grid code, grid, region (the roll-up
// region), roles (joined by "; "), category, state, reached at, answered
// at (times as 2006-01-02 15:04:05 in the report's time zone, which a
// spreadsheet reads as a date and time), the time zone with its offset
// (Asia/Shanghai (UTC+08:00)), seconds to acknowledge (acknowledgements only, one decimal), decline reason,
// provider error code, provider error. Cells that a spreadsheet would read
// as a formula are prefixed with an apostrophe.
func WriteReport(w io.Writer, r Report, f ReportFormat, o ReportOptions) error {
	lang := o.Lang
	if lang == "" {
		lang = plans.LangZH
	}
	if lang != plans.LangZH && lang != plans.LangEN {
		return invalidf("report language %q: want zh or en", lang)
	}
	loc := o.Location
	if loc == nil {
		var err error
		if loc, err = loadZone(r.TimeZone); err != nil {
			return err
		}
	}
	switch f {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r.Metrics); err != nil {
			return fmt.Errorf("write report %s as json: %w", r.Metrics.Run, err)
		}
		return nil
	case FormatCSV:
		if err := writeCSV(w, r, newTexts(lang, r.Metrics), loc); err != nil {
			return fmt.Errorf("write report %s as csv: %w", r.Metrics.Run, err)
		}
		return nil
	case FormatHTML, "":
		v := buildView(r, newTexts(lang, r.Metrics), loc, o.MaxPeople)
		bw := bufio.NewWriter(w)
		if err := reportTemplate.Execute(bw, v); err != nil {
			return fmt.Errorf("write report %s as html: %w", r.Metrics.Run, err)
		}
		return bw.Flush()
	}
	return invalidf("report format %q: want html, csv or json", f)
}

// ---- text ----

// texts looks up the report's words in its language.
type texts struct {
	lang plans.Language
	// rolesEN are the English names of the run's role slots, by their
	// Chinese names (an English report's).
	rolesEN map[string]string
}

// newTexts is the words of a report in lang on m: an English one says the
// roles' English names where the plan gave them.
func newTexts(lang plans.Language, m Metrics) texts {
	x := texts{lang: lang}
	if x.en() {
		for _, g := range m.ByRole {
			if g.NameEN == "" {
				continue
			}
			if x.rolesEN == nil {
				x.rolesEN = map[string]string{}
			}
			if _, ok := x.rolesEN[g.Name]; !ok {
				x.rolesEN[g.Name] = g.NameEN
			}
		}
	}
	return x
}

// role is a role's name in the report's language: its English name in an
// English report when it has one.
func (x texts) role(name string) string {
	if en, ok := x.rolesEN[name]; ok {
		return en
	}
	return name
}

// roles is each of names as role says it.
func (x texts) roles(names []string) []string {
	if x.rolesEN == nil {
		return names
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = x.role(n)
	}
	return out
}

// reportWords are the report's labels: Chinese, English.
var reportWords = map[string][2]string{
	"banner":       {"【演练】EXERCISE · 本报告记录的是一次演练，不是真实突发事件", "EXERCISE 【演练】 · This report is about a drill, not a real emergency"},
	"heading":      {"演练报告", "Drill report"},
	"colon":        {"：", ": "},
	"comma":        {"，", ", "},
	"ackcount":     {"共 %d 人确认到岗", "%d acknowledgements"},
	"ackby":        {"T+%d 确认", "Acked T+%d"},
	"run":          {"演练编号", "Run"},
	"scenario":     {"演练场景", "Scenario"},
	"plan":         {"预案", "Plan"},
	"version":      {"版本", "version"},
	"level":        {"响应级别", "Response level"},
	"type":         {"演练类型", "Exercise type"},
	"regions":      {"演练区域", "Regions"},
	"units":        {"参演单位", "Participating units"},
	"participants": {"参演人数", "Participants"},
	"leftout":      {"未参演（已被真实启动召集）", "Left out (called up for real)"},
	"leftout.n": {"%d 人：真实（LIVE）启动已召集，本次演练未向其发送或已停止向其发送",
		"%d: called up for real by a LIVE call-up, so this drill did not send to them or stopped sending"},
	"how":           {"启动方式", "Started"},
	"how.schedule":  {"按计划", "on schedule"},
	"how.manual":    {"手动启动", "by hand"},
	"how.nonotice":  {"不预先通知", "no notice"},
	"started":       {"开始时间", "Start"},
	"ended":         {"结束时间", "End"},
	"open":          {"（仍在进行）", " (still open)"},
	"retracted":     {"已撤回", "Retracted"},
	"retracted.by":  {"%s 由 %s 撤回：%s（更正通知 %s）", "%s by %s: %s (correction %s)"},
	"retracted.run": {"（已撤回）", " (retracted)"},
	"stopped.run":   {"（被真实启动中止）", " (stopped by a LIVE call-up)"},
	"early.run":     {"（提前解除）", " (stood down early)"},
	"stopped":       {"被真实启动中止", "Stopped by a LIVE call-up"},
	"cutshort":      {"不计为已开展的演练。", "It does not count as a drill held."},
	"notice.retracted": {"本次演练的启动已撤回（误发）：%s 由 %s 撤回，发送随即停止，已向已送达人员发出更正通知 %s。",
		"This drill's call-up was retracted as a mistake at %s by %s: its sends stopped, and correction %s went to the people it reached."},
	"notice.stopped": {"本次演练已被真实（LIVE）启动 %s 中止：该启动覆盖演练区域，演练随即停止。",
		"This drill was stopped by LIVE call-up %s, which started over its regions."},
	"simulated": {"发送方式", "Sent"},
	"simulated.how": {"模拟器发送，未到达任何手机（主节点未配置演练短信账号）",
		"sent through the built-in simulator: no phone was reached (the leader had no EXERCISE SMS account)"},
	"notice.simulated": {"模拟器发送，未到达任何手机：本次演练经内置模拟器发送（主节点未配置演练短信账号），送达、报到和未回复的人数均由模拟器给出，不反映任何人员的情况，未回复人员无需跟进。",
		"Sent through the built-in simulator: no phone was reached. The leader had no EXERCISE SMS account, so the reached, answered and silent figures are the simulator's, not people's, and nobody silent needs chasing."},
	"simulated.run": {"（模拟器发送）", " (built-in simulator)"},
	"asof":          {"统计截至", "As of"},
	"tz":            {"时区", "Time zone"},
	"activation":    {"启动编号", "Activation"},
	"summary":       {"总体情况", "Summary"},
	"recipients":    {"应召人数", "Called up"},
	"reached":       {"已送达", "Reached"},
	"acked":         {"确认到岗", "Acknowledged"},
	"declined":      {"不能到岗", "Declined"},
	"failed":        {"发送失败", "Failed"},
	"unanswered":    {"未回复", "No answer"},
	"p50":           {"用时中位数 p50", "Time to ack p50"},
	"p90":           {"用时 p90", "Time to ack p90"},
	"max":           {"最长用时", "Longest time to ack"},
	"p50.short":     {"p50", "p50"},
	"p90.short":     {"p90", "p90"},
	"checkpoints":   {"时间节点", "Checkpoints"},
	"checkpoint":    {"节点", "Checkpoint"},
	"notyet":        {"尚未到达", "not yet reached"},
	"cutcp":         {"已解除，计至解除时", "stood down before it: counted to the stand-down"},
	"curve":         {"确认到岗曲线", "Acknowledgements over time"},
	"curve.x":       {"启动后分钟数", "minutes after the start"},
	"curve.xs":      {"启动后秒数", "seconds after the start"},
	"curve.step":    {"每 %s统计一次；两次统计之间保持前一次的人数，不作插值。", "Counted every %s; between two counts the line holds the earlier one, never interpolated."},
	"curve.y":       {"占应召人数 %", "% of those called up"},
	"bars":          {"各网格回复情况", "Answers by grid"},
	"bars.lowest":   {"仅显示确认率最低的 %d 个网格（共 %d 个）", "Only the %d grids with the lowest acknowledgement rate are shown (of %d)"},
	"byregion":      {"分区域", "By region"},
	"bygrid":        {"分网格", "By grid"},
	"byrole":        {"分角色", "By role"},
	"bycategory":    {"分人员类别", "By roster category"},
	"name":          {"名称", "Name"},
	"outside":       {"（预案范围内、演练区域外）", " (outside the drilled regions)"},
	"trend":         {"本预案历次演练对比", "Runs of this plan compared"},
	"date":          {"日期", "Date"},
	"current":       {"（本次）", " (this run)"},
	"noanswer":      {"未回复人员", "People who never answered"},
	"noanswer.more": {"以上仅列出 %d 人，另有 %d 人未列出，完整名单见 CSV 报告。", "Only %d are listed here; %d more are in the CSV report."},
	"noanswer.none": {"所有人员均已回复。", "Everyone answered."},
	"person":        {"姓名", "Name"},
	"grid":          {"网格", "Grid"},
	"roles":         {"角色", "Roles"},
	"category":      {"类别", "Category"},
	"state":         {"最终状态", "Final state"},
	"error":         {"最后错误", "Last error"},
	"notes":         {"说明", "Notes"},
	"note.reached":  {"已送达：收到运营商送达回执或本人回复。", "Reached: a delivery report or a reply came."},
	"note.answer":   {"确认到岗 / 不能到岗：本人回复 1 / 2（或语音按键），以第一次回答为准；未回复 = 应召人数 − 确认 − 不能到岗 − 发送失败。", "Acknowledged / declined: the person answered 1 / 2 (by SMS or keypad); the first answer stands. No answer = called up − acknowledged − declined − failed."},
	"note.cp":       {"T+5/15/30：启动后 5、15、30 分钟内（含）的人数及其占应召人数的比例。", "T+5/15/30: how many by 5, 15 and 30 minutes after the start, and their share of those called up."},
	"note.pct":      {"用时：自启动至确认到岗；p50、p90 为最近秩百分位数（排序后第 ⌈p·N/100⌉ 个）。", "Time to ack: from the start to the acknowledgement; p50 and p90 are nearest-rank percentiles (the ⌈p·N/100⌉-th when sorted)."},
	"note.trend":    {"趋势中标注“已撤回”“被真实启动中止”“提前解除”的演练被中止，不计为已开展的演练；* 表示该节点前已解除，比例计至解除时，不再变化；… 表示演练仍在进行、该节点尚未到达。", "In the trend, a run marked retracted, stopped by a LIVE call-up or stood down early was cut short and does not count as a drill held; * marks a checkpoint the call-up stood down before (its share counts to the stand-down and is final); … a checkpoint not yet reached by a run still under way."},
	"note.list":     {"未回复人员包括发送失败者；类别取自当前花名册，已不在花名册中的人员计为“未知”。", "People who never answered include those the message failed to reach; categories are today's roster's, and people no longer in the roster count as unknown."},
	"generated":     {"报告生成依据", "Computed from"},
	"none":          {"—", "—"},
	"unknown":       {"未知", "unknown"},
	"csv.person":    {"系统编号", "muster ID"},
	"csv.external":  {"编号", "external ID"},
	"csv.name":      {"姓名", "name"},
	"csv.phone":     {"手机", "phone"},
	"csv.gridcode":  {"网格编码", "grid code"},
	"csv.grid":      {"网格", "grid"},
	"csv.region":    {"所属区域", "region"},
	"csv.roles":     {"角色", "roles"},
	"csv.category":  {"类别", "category"},
	"csv.state":     {"状态", "state"},
	"csv.reached":   {"送达时间", "reached at"},
	"csv.answered":  {"回复时间", "answered at"},
	"csv.tz":        {"时区", "time zone"},
	"csv.toack":     {"确认用时（秒）", "seconds to ack"},
	"csv.reason":    {"不能到岗原因", "decline reason"},
	"csv.code":      {"错误码", "error code"},
	"csv.error":     {"错误信息", "error"},
	"csv.backupfor": {"替补", "stands in for"},
}

var stateWords = map[notify.State][2]string{
	notify.StatePending:   {"待发送", "pending"},
	notify.StateSending:   {"发送中", "sending"},
	notify.StateSent:      {"已发送", "sent"},
	notify.StateDelivered: {"已送达", "delivered"},
	notify.StateAcked:     {"确认到岗", "acknowledged"},
	notify.StateDeclined:  {"不能到岗", "declined"},
	notify.StateFailed:    {"发送失败", "failed"},
	notify.StateEscalated: {"已升级", "escalated"},
	notify.StateExpired:   {"已过期", "expired"},
	notify.StateCancelled: {"已取消召集", "taken off the call-up"},
}

var typeWordsEN = map[ExerciseType]string{
	Notification: "notification drill", Tabletop: "tabletop exercise", Functional: "functional exercise", FullScale: "full-scale exercise",
}

var levelWordsEN = map[plans.LevelCode]string{
	plans.LevelI: "particularly serious", plans.LevelII: "serious", plans.LevelIII: "relatively serious", plans.LevelIV: "general",
}

var categoryWordsEN = map[plans.Category]string{
	plans.CatPartyMember: "party member", plans.CatDeputy: "people's congress deputy", plans.CatCPPCC: "CPPCC member",
	plans.CatLeague: "league member", plans.CatCommunityCadre: "community cadre", plans.CatSecondedCadre: "seconded cadre",
	plans.CatActivist: "resident activist", plans.CatProperty: "property staff", plans.CatVolunteer: "volunteer",
	plans.CatResponder: "emergency team", plans.CatGridWorker: "grid worker", plans.CatOfficial: "official",
}

func (x texts) en() bool { return x.lang == plans.LangEN }

func (x texts) pick(w [2]string) string {
	if x.en() {
		return w[1]
	}
	return w[0]
}

// T is the label key in the report's language (the key itself if unknown).
func (x texts) T(key string) string {
	if w, ok := reportWords[key]; ok {
		return x.pick(w)
	}
	return key
}

// paren writes s in parentheses after what precedes it.
func (x texts) paren(s string) string {
	if x.en() {
		return " (" + s + ")"
	}
	return "（" + s + "）"
}

// list joins items the way the language lists them.
func (x texts) list(items []string) string {
	if x.en() {
		return strings.Join(items, ", ")
	}
	return strings.Join(items, "、")
}

func (x texts) state(s notify.State) string {
	if w, ok := stateWords[s]; ok {
		return x.pick(w)
	}
	return string(s)
}

func (x texts) exerciseType(t ExerciseType) string {
	if x.en() {
		if s, ok := typeWordsEN[t]; ok {
			return s
		}
		return string(t)
	}
	return t.ChineseName()
}

func (x texts) level(code plans.LevelCode, name string) string {
	if x.en() {
		if s, ok := levelWordsEN[code]; ok {
			return fmt.Sprintf("Level %s (%s)", code, s)
		}
		return "Level " + string(code)
	}
	if name == "" {
		return string(code) + "级"
	}
	return fmt.Sprintf("%s级（%s）", code, name)
}

func (x texts) category(c plans.Category) string {
	if c == CategoryUnknown || c == "" {
		return x.T("unknown")
	}
	if x.en() {
		if s, ok := categoryWordsEN[c]; ok {
			return s
		}
	}
	return string(c)
}

func (x texts) planTitle(m *Metrics) string {
	if x.en() && m.PlanTitleEN != "" {
		return m.PlanTitleEN
	}
	return m.PlanTitle
}

// duration writes a time to acknowledge: tenths of a second under a minute,
// whole seconds above.
func (x texts) duration(d time.Duration) string {
	if d < time.Minute {
		s := strconv.FormatFloat(math.Round(d.Seconds()*10)/10, 'f', 1, 64)
		if x.en() {
			return s + "s"
		}
		return s + "秒"
	}
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case x.en() && h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	case x.en():
		return fmt.Sprintf("%dm%02ds", m, s)
	case h > 0:
		return fmt.Sprintf("%d小时%02d分%02d秒", h, m, s)
	}
	return fmt.Sprintf("%d分%02d秒", m, s)
}

func (x texts) ackTime(d plans.Duration, n int) string {
	if n == 0 {
		return x.T("none")
	}
	return x.duration(d.Std())
}

const timeLayout = "2006-01-02 15:04:05"

func stamp(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format(timeLayout)
}

// zoneLabel names the time zone loc and its offset from UTC at t:
// Asia/Shanghai (UTC+08:00).
func zoneLabel(t time.Time, loc *time.Location) string {
	_, off := t.In(loc).Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("%s (UTC%c%02d:%02d)", loc.String(), sign, off/3600, off%3600/60)
}

func pct(p float64) string { return strconv.FormatFloat(p, 'f', 1, 64) + "%" }

// ---- CSV ----

func writeCSV(w io.Writer, r Report, x texts, loc *time.Location) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString("\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	head := []string{"csv.person", "csv.external", "csv.name", "csv.phone", "csv.gridcode", "csv.grid", "csv.region", "csv.roles", "csv.category",
		"csv.state", "csv.reached", "csv.answered", "csv.tz", "csv.toack", "csv.reason", "csv.code", "csv.error", "csv.backupfor"}
	rec := make([]string, len(head))
	for i, k := range head {
		rec[i] = x.T(k)
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	for i := range r.People {
		p := &r.People[i]
		toAck, code := "", ""
		if p.State == notify.StateAcked && !p.Answered.IsZero() {
			toAck = strconv.FormatFloat(math.Round(p.ToAck.Std().Seconds()*10)/10, 'f', 1, 64)
		}
		if p.Code != 0 {
			code = strconv.Itoa(p.Code)
		}
		state := string(p.State)
		if !x.en() {
			state = x.state(p.State)
		}
		// The times' zone, with its offset when they were (one that
		// changes to summer time says which side of the change they are).
		at := r.Metrics.Start
		if !p.Reached.IsZero() {
			at = p.Reached
		} else if !p.Answered.IsZero() {
			at = p.Answered
		}
		rec = append(rec[:0], string(p.Person), cell(p.ExternalID), cell(p.Name), cell(p.Phone), string(p.Grid), cell(p.GridName), cell(p.Region),
			cell(strings.Join(x.roles(p.Roles), "; ")), cell(x.category(p.Category)), state, stamp(p.Reached, loc), stamp(p.Answered, loc),
			zoneLabel(at, loc), toAck, cell(p.Reason), code, cell(p.Error), cell(x.standsInFor(p)))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// standsInFor names, for a backup the escalation called up in place of a
// silent person, that person and their grid (the post the backup took,
// where the report counts them), with the backup's own grid; "" for
// anyone else.
// Chinese: 秦芳（紫荆里社区第1网格；本人网格 990103003001008）
// English: 秦芳 (Zijingli Community Grid 1; own grid 990103003001008)
func (x texts) standsInFor(p *Outcome) string {
	b := p.BackupFor
	if b == nil {
		return ""
	}
	grid := b.GridName
	if x.en() && b.GridNameEN != "" {
		grid = b.GridNameEN
	}
	grid = cmp.Or(grid, string(b.Grid))
	name := cmp.Or(b.Name, string(b.Person))
	if x.en() {
		return fmt.Sprintf("%s (%s; own grid %s)", name, grid, p.OwnGrid)
	}
	return fmt.Sprintf("%s（%s；本人网格 %s）", name, grid, p.OwnGrid)
}

// cell keeps a spreadsheet from reading text as a formula.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ---- HTML ----

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Parse(reportHTML))

// reportView is what the HTML template shows, every value ready to print.
type reportView struct {
	texts
	HTMLLang string
	Title    string
	Scenario string
	// Notice says, under the exercise banner, that the drill was cut
	// short: retracted, or stopped by a LIVE call-up, or that it was sent
	// through the built-in simulator (empty otherwise).
	Notice    string
	Facts     []fact
	Headline  []figure
	AckTimes  []figure
	CPs       []cpView
	Curve     curveView
	Bars      barsView
	Regions   []rowView
	Grids     []rowView
	Roles     []rowView
	Cats      []rowView
	CPHeads   []string
	Trend     []trendView
	People    []personView
	More      string
	Notes     []string
	Generated string
}

type fact struct{ Label, Value string }

type figure struct {
	Label, Value, Sub, Class string
}

type cpView struct {
	Label                      string
	Passed, Cut                bool
	Reached, Acked, Declined   string
	ReachedP, AckedP, DeclineP string
}

type rowView struct {
	Name, Sub, Class                             string
	Recipients                                   int
	Reached, Acked, Declined, Failed, Unanswered int
	ReachedP, AckedP, DeclinedP, FailedP, UnansP string
	CPs                                          []string
	P50, P90                                     string
}

type trendView struct {
	Class, Date, Run, Type, P50, P90, Reached, Acked string
	Participants                                     int
	CPs                                              []string
}

type personView struct {
	Name, Grid, GridCode, Roles, Category, State, Error string
}

// curveView is the ack curve's SVG: a 680×280 drawing, the plot inside
// the margins.
type curveView struct {
	W, H                  int
	Left, Right, Top, Bot float64
	YTicks                []tick
	XTicks                []tick
	XLabel                string // the x axis's unit: seconds or minutes
	Marks                 []tick // checkpoints
	Reached, Acked, Decl  string // step paths (SVG path data)
	Caption               string // how often the curve was counted
	Empty                 bool
}

// secondTicksUpTo is the longest curve whose x axis is marked in seconds;
// a longer one is marked in minutes.
const secondTicksUpTo = 2 * 60

type tick struct {
	Pos   float64
	Label string
}

type barsView struct {
	W, H    int
	LabelW  float64
	BarW    float64
	Rows    []barRow
	Caption string
}

type barRow struct {
	Y                                   float64
	Label, Pct                          string
	Acked, Declined, Failed, Unanswered float64 // widths
	AX, DX, FX, UX                      float64 // x positions
}

func buildView(r Report, x texts, loc *time.Location, maxPeople int) reportView {
	m := &r.Metrics
	v := reportView{texts: x, HTMLLang: "zh-CN", Title: x.planTitle(m), Scenario: m.Title}
	if x.en() {
		v.HTMLLang = "en"
	}
	how := x.T("how.schedule")
	if m.Manual {
		how = x.T("how.manual")
	}
	if m.NoNotice {
		how += " · " + x.T("how.nonotice")
	}
	regions := make([]string, len(m.Regions))
	for i, c := range m.Regions {
		regions[i] = string(c)
	}
	ended := stamp(m.End, loc)
	if m.Status == notify.StatusActive {
		ended = stamp(m.AsOf, loc) + x.T("open")
	}
	zone := zoneLabel(m.Start, loc)
	units := x.list(m.Units)
	if units == "" {
		units = x.T("none")
	}
	v.Facts = []fact{
		{x.T("run"), string(m.Run)},
		{x.T("scenario"), m.Title},
		{x.T("plan"), v.Title + x.paren(fmt.Sprintf("%s%s%s %d", m.Plan, x.T("comma"), x.T("version"), m.PlanVersion))},
		{x.T("level"), x.level(m.Level, m.LevelName)},
		{x.T("type"), x.exerciseType(m.Type)},
		{x.T("regions"), m.RegionNames + x.paren(strings.Join(regions, ", "))},
		{x.T("units"), units},
		{x.T("participants"), strconv.Itoa(m.Participants)},
	}
	if m.LeftOut > 0 {
		v.Facts = append(v.Facts, fact{x.T("leftout"), fmt.Sprintf(x.T("leftout.n"), m.LeftOut)})
	}
	v.Facts = append(v.Facts, []fact{
		{x.T("how"), how},
		{x.T("started"), stamp(m.Start, loc)},
		{x.T("ended"), ended},
	}...)
	if rt := m.Retraction; rt != nil {
		v.Facts = append(v.Facts, fact{x.T("retracted"), fmt.Sprintf(x.T("retracted.by"), stamp(rt.At, loc), rt.By, rt.Message, rt.Correction)})
		v.Notice = fmt.Sprintf(x.T("notice.retracted"), stamp(rt.At, loc), rt.By, rt.Correction) + " " + x.T("cutshort")
	} else if m.StoppedBy != "" {
		v.Facts = append(v.Facts, fact{x.T("stopped"), string(m.StoppedBy)})
		v.Notice = fmt.Sprintf(x.T("notice.stopped"), m.StoppedBy) + " " + x.T("cutshort")
	}
	if m.Simulated {
		v.Facts = append(v.Facts, fact{x.T("simulated"), x.T("simulated.how")})
		if v.Notice == "" {
			v.Notice = x.T("notice.simulated") + " " + x.T("cutshort")
		} else {
			v.Notice = x.T("notice.simulated") + " " + v.Notice
		}
	}
	v.Facts = append(v.Facts,
		fact{x.T("asof"), stamp(m.AsOf, loc)},
		fact{x.T("tz"), zone},
		fact{x.T("activation"), string(m.Activation) + x.paren(string(m.Purpose))},
	)
	t := &m.Total
	v.Headline = []figure{
		{x.T("recipients"), strconv.Itoa(t.Recipients), "", ""},
		{x.T("reached"), pct(t.ReachedPct), strconv.Itoa(t.Reached), "reached"},
		{x.T("acked"), pct(t.AckedPct), strconv.Itoa(t.Acked), "acked"},
		{x.T("declined"), pct(t.DeclinedPct), strconv.Itoa(t.Declined), "declined"},
		{x.T("failed"), pct(t.FailedPct), strconv.Itoa(t.Failed), "failed"},
		{x.T("unanswered"), pct(t.UnansweredPct), strconv.Itoa(t.Unanswered), "unanswered"},
	}
	n := fmt.Sprintf(x.T("ackcount"), t.AckTime.N)
	v.AckTimes = []figure{
		{x.T("p50"), x.ackTime(t.AckTime.P50, t.AckTime.N), n, ""},
		{x.T("p90"), x.ackTime(t.AckTime.P90, t.AckTime.N), "", ""},
		{x.T("max"), x.ackTime(t.AckTime.Max, t.AckTime.N), "", ""},
	}
	for _, c := range t.Checkpoints {
		v.CPs = append(v.CPs, cpView{Label: fmt.Sprintf("T+%d", c.Minutes), Passed: c.Passed, Cut: c.Cut,
			Reached: strconv.Itoa(c.Reached), ReachedP: pct(c.ReachedPct), Acked: strconv.Itoa(c.Acked), AckedP: pct(c.AckedPct),
			Declined: strconv.Itoa(c.Declined), DeclineP: pct(c.DeclinedPct)})
	}
	for _, c := range m.Checkpoints {
		v.CPHeads = append(v.CPHeads, fmt.Sprintf(x.T("ackby"), c))
	}
	v.Curve = buildCurve(m, x)
	v.Bars = buildBars(m, x)
	for _, g := range m.ByRegion {
		name := g.Name
		if g.Outside {
			name += x.T("outside")
		}
		v.Regions = append(v.Regions, tallyRow(g, name, joinSub(g.Path, g.Key), x))
	}
	for _, g := range m.ByGrid {
		name := g.Name
		if name == "" {
			name = g.Key
		}
		v.Grids = append(v.Grids, tallyRow(g, name, joinSub(g.Path, g.Key), x))
	}
	for _, g := range m.ByRole {
		name := g.Name
		if x.en() && g.NameEN != "" {
			name = g.NameEN
		}
		v.Roles = append(v.Roles, tallyRow(g, name, g.Group, x))
	}
	for _, g := range m.ByCategory {
		v.Cats = append(v.Cats, tallyRow(g, x.category(plans.Category(g.Key)), "", x))
	}
	for _, tr := range r.Trend {
		tv := trendView{Date: stamp(tr.Start, loc), Run: string(tr.Run), Type: x.exerciseType(tr.Type), Participants: tr.Participants,
			Reached: pct(tr.Total.ReachedPct), Acked: pct(tr.Total.AckedPct),
			P50: x.ackTime(tr.Total.AckTime.P50, tr.Total.AckTime.N), P90: x.ackTime(tr.Total.AckTime.P90, tr.Total.AckTime.N)}
		switch {
		case tr.Retracted:
			tv.Run += x.T("retracted.run")
		case tr.StoppedBy != "":
			tv.Run += x.T("stopped.run")
		case tr.CutShort:
			tv.Run += x.T("early.run")
		}
		if tr.Simulated {
			tv.Run += x.T("simulated.run")
		}
		if tr.Run == m.Run {
			tv.Class, tv.Run = "current", tv.Run+x.T("current")
		}
		for _, c := range tr.Total.Checkpoints {
			cell := pct(c.AckedPct)
			switch {
			case !c.Passed:
				cell += "…"
			case c.Cut:
				cell += "*"
			}
			tv.CPs = append(tv.CPs, cell)
		}
		v.Trend = append(v.Trend, tv)
	}
	if maxPeople == 0 {
		maxPeople = DefaultMaxPeople
	}
	list := m.NoAnswer
	if maxPeople > 0 && len(list) > maxPeople {
		v.More = fmt.Sprintf(x.T("noanswer.more"), maxPeople, len(list)-maxPeople)
		list = list[:maxPeople]
	}
	for _, p := range list {
		e := p.Error
		if p.Code != 0 {
			e = strings.TrimSpace(fmt.Sprintf("%d %s", p.Code, e))
		}
		v.People = append(v.People, personView{Name: p.Name, Grid: p.GridName, GridCode: string(p.Grid),
			Roles: x.list(x.roles(p.Roles)), Category: x.category(p.Category), State: x.state(p.State), Error: e})
	}
	v.Notes = []string{x.T("note.reached"), x.T("note.answer"), x.T("note.cp"), x.T("note.pct"), x.T("note.trend"), x.T("note.list")}
	v.Generated = fmt.Sprintf("%s: %s %s, %s %s", x.T("generated"), x.T("activation"), m.Activation, x.T("asof"), stamp(m.AsOf, loc))
	return v
}

// tableArgs is what the template's tally table shows.
type tableArgs struct {
	texts
	CPHeads []string
	Rows    []rowView
}

// Table is the tally table of rows, for the template.
func (v reportView) Table(rows []rowView) tableArgs {
	return tableArgs{texts: v.texts, CPHeads: v.CPHeads, Rows: rows}
}

func joinSub(path, code string) string {
	if path == "" {
		return code
	}
	return path + " · " + code
}

func tallyRow(t Tally, name, sub string, x texts) rowView {
	r := rowView{Name: name, Sub: sub, Recipients: t.Recipients, Reached: t.Reached, Acked: t.Acked, Declined: t.Declined,
		Failed: t.Failed, Unanswered: t.Unanswered, ReachedP: pct(t.ReachedPct), AckedP: pct(t.AckedPct),
		DeclinedP: pct(t.DeclinedPct), FailedP: pct(t.FailedPct), UnansP: pct(t.UnansweredPct),
		P50: x.ackTime(t.AckTime.P50, t.AckTime.N), P90: x.ackTime(t.AckTime.P90, t.AckTime.N)}
	for _, c := range t.Checkpoints {
		r.CPs = append(r.CPs, pct(c.AckedPct))
	}
	if t.Recipients == 0 {
		r.Class = "empty"
	}
	return r
}

// round2 keeps SVG coordinates short and stable.
func round2(f float64) float64 { return math.Round(f*100) / 100 }

// buildCurve draws the curve's points as steps: each count is held
// until the next point and rises there, so the drawing never shows a count
// between two points that was not measured. The x axis is in seconds up
// to secondTicksUpTo, in minutes beyond.
func buildCurve(m *Metrics, x texts) curveView {
	c := curveView{W: 680, H: 280, Left: 48, Right: 664, Top: 16, Bot: 244}
	pts := m.Curve.Points
	maxSec := 0
	if len(pts) > 0 {
		maxSec = pts[len(pts)-1].Second
	}
	maxSec = max(maxSec, m.Curve.StepSeconds, 1)
	n := m.Total.Recipients
	xOf := func(sec int) float64 { return round2(c.Left + (c.Right-c.Left)*float64(sec)/float64(maxSec)) }
	yOf := func(k int) float64 {
		if n == 0 {
			return c.Bot
		}
		return round2(c.Bot - (c.Bot-c.Top)*float64(k)/float64(n))
	}
	for p := 0; p <= 100; p += 25 {
		c.YTicks = append(c.YTicks, tick{Pos: round2(c.Bot - (c.Bot-c.Top)*float64(p)/100), Label: strconv.Itoa(p) + "%"})
	}
	// At most about ten ticks, unit seconds (steps of 1–30 s) or
	// minutes (steps of 1 minute to 2 days).
	unit, steps := 60, []int{1, 2, 5, 10, 15, 30, 60, 120, 240, 360, 720, 1440, 2880}
	c.XLabel = x.T("curve.x")
	if maxSec <= secondTicksUpTo {
		unit, steps = 1, []int{1, 2, 5, 10, 15, 30}
		c.XLabel = x.T("curve.xs")
	}
	step := 1
	for _, s := range steps {
		step = s
		if maxSec/unit/s <= 10 {
			break
		}
	}
	for k := 0; k*unit <= maxSec; k += step {
		c.XTicks = append(c.XTicks, tick{Pos: xOf(k * unit), Label: strconv.Itoa(k)})
	}
	for _, cp := range m.Checkpoints {
		if cp*60 <= maxSec {
			c.Marks = append(c.Marks, tick{Pos: xOf(cp * 60), Label: fmt.Sprintf("T+%d", cp)})
		}
	}
	stairs := func(get func(CurvePoint) int) string {
		if len(pts) == 0 {
			return fmt.Sprintf("M%g,%g", c.Left, c.Bot)
		}
		var b strings.Builder
		y := yOf(get(pts[0]))
		fmt.Fprintf(&b, "M%g,%g", xOf(pts[0].Second), y)
		for i := 1; i < len(pts); i++ {
			ny := yOf(get(pts[i]))
			if ny == y && i < len(pts)-1 {
				continue
			}
			fmt.Fprintf(&b, " H%g", xOf(pts[i].Second))
			if ny != y {
				fmt.Fprintf(&b, " V%g", ny)
				y = ny
			}
		}
		return b.String()
	}
	c.Reached = stairs(func(p CurvePoint) int { return p.Reached })
	c.Acked = stairs(func(p CurvePoint) int { return p.Acked })
	c.Decl = stairs(func(p CurvePoint) int { return p.Declined })
	if m.Curve.StepSeconds > 0 {
		c.Caption = fmt.Sprintf(x.T("curve.step"), x.step(m.Curve.StepSeconds))
	}
	return c
}

// step says a curve's step of sec seconds in the largest whole unit:
// 5 s, 2 min, 6 h, 2 d.
func (x texts) step(sec int) string {
	units := []struct {
		n      int
		zh, en string
	}{{86400, "天", "d"}, {3600, "小时", "h"}, {60, "分钟", "min"}, {1, "秒", "s"}}
	for _, u := range units {
		if sec >= u.n && sec%u.n == 0 {
			return strconv.Itoa(sec/u.n) + " " + x.pick([2]string{u.zh, u.en})
		}
	}
	return strconv.Itoa(sec) + " " + x.pick([2]string{"秒", "s"})
}

func buildBars(m *Metrics, x texts) barsView {
	grids := slices.Clone(m.ByGrid)
	b := barsView{W: 680, LabelW: 200, BarW: 400}
	if len(grids) > maxBars {
		slices.SortStableFunc(grids, func(a, c Tally) int {
			switch {
			case a.AckedPct < c.AckedPct:
				return -1
			case a.AckedPct > c.AckedPct:
				return 1
			}
			return strings.Compare(a.Key, c.Key)
		})
		b.Caption = fmt.Sprintf(x.T("bars.lowest"), maxBars, len(grids))
		grids = grids[:maxBars]
	}
	const rowH = 18.0
	b.H = int(rowH*float64(len(grids))) + 8
	for i, g := range grids {
		label := g.Name
		if label == "" {
			label = g.Key
		}
		r := barRow{Y: round2(4 + rowH*float64(i)), Label: label, Pct: pct(g.AckedPct)}
		if g.Recipients > 0 {
			w := func(k int) float64 { return round2(b.BarW * float64(k) / float64(g.Recipients)) }
			r.Acked, r.Declined, r.Failed, r.Unanswered = w(g.Acked), w(g.Declined), w(g.Failed), w(g.Unanswered)
		}
		r.AX = b.LabelW
		r.DX = round2(r.AX + r.Acked)
		r.FX = round2(r.DX + r.Declined)
		r.UX = round2(r.FX + r.Failed)
		b.Rows = append(b.Rows, r)
	}
	return b
}
