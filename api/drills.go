package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/access"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// Drills is what api needs of drills (drills.Service).
type Drills interface {
	Schedule(ctx context.Context, actor string, in drills.ScheduleInput) (drills.Schedule, error)
	Pause(ctx context.Context, actor string, id drills.ScheduleID) (drills.Schedule, error)
	Resume(ctx context.Context, actor string, id drills.ScheduleID) (drills.Schedule, error)
	Delete(ctx context.Context, actor string, id drills.ScheduleID) (drills.Schedule, error)
	Change(ctx context.Context, actor string, id drills.ScheduleID, ch drills.ScheduleChange) (drills.Schedule, error)
	RunNowWith(ctx context.Context, actor string, id drills.ScheduleID, opts drills.RunOptions) (drills.Run, error)
	Get(ctx context.Context, level muster.Consistency, id drills.ScheduleID) (drills.Schedule, error)
	Schedules(ctx context.Context, level muster.Consistency, page plans.Page) (plans.List[drills.Schedule], error)
	GetRun(ctx context.Context, level muster.Consistency, id drills.RunID) (drills.Run, error)
	Runs(ctx context.Context, level muster.Consistency, f drills.RunFilter, page plans.Page) (plans.List[drills.Run], error)
	AddFinding(ctx context.Context, actor string, in drills.FindingInput) (drills.Finding, error)
	UpdateFinding(ctx context.Context, actor string, id drills.FindingID, u drills.FindingUpdate) (drills.Finding, error)
	Finding(ctx context.Context, level muster.Consistency, id drills.FindingID) (drills.Finding, error)
	Findings(ctx context.Context, level muster.Consistency, f drills.FindingFilter, page plans.Page) (plans.List[drills.Finding], error)
	OpenFindings(ctx context.Context, level muster.Consistency, plan plans.PlanID, now time.Time) ([]drills.PlanFindings, error)
	Overdue(ctx context.Context, level muster.Consistency, now time.Time) (drills.OverdueReport, error)
	Metrics(ctx context.Context, level muster.Consistency, id drills.RunID, asOf time.Time) (drills.Metrics, error)
	Report(ctx context.Context, level muster.Consistency, id drills.RunID, asOf time.Time) (drills.Report, error)
	Trend(ctx context.Context, level muster.Consistency, plan plans.PlanID) ([]drills.TrendRow, error)
	ScopeWarnings(ctx context.Context, level muster.Consistency, plan plans.PlanID, scope []plans.RegionCode) ([]string, error)
	Now() time.Time
}

// withDrills serves a drills route with the drills service, or answers 503
// on a server built without one.
func (s *Server) withDrills(h func(*gin.Context, Drills)) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.deps.Drills == nil {
			s.writeError(c, muster.Errorf(muster.EUnavailable, "this node does not serve drills"))
			return
		}
		h(c, s.deps.Drills)
	}
}

// shownSchedule hides when a no-notice drill will start from everyone but
// admins: the point of a no-notice drill is that trainers and responders do
// not know the time in advance. The window and the due day stay visible.
func shownSchedule(c *gin.Context, sc drills.Schedule) drills.Schedule {
	if sc.NoNotice != nil && identity(c).Role != access.Admin {
		sc.RunAt = time.Time{}
	}
	return sc
}

func (s *Server) createDrill(c *gin.Context, ds Drills) {
	var in drills.ScheduleInput
	if err := decodeJSON(c, &in); err != nil {
		s.writeError(c, err)
		return
	}
	sc, err := ds.Schedule(c.Request.Context(), identity(c).Name, in)
	if err == nil {
		c.Header("Location", "/api/v1/drills/"+string(sc.ID))
	}
	s.reply(c, http.StatusCreated, shownSchedule(c, sc), err)
}

func (s *Server) listDrills(c *gin.Context, ds Drills) {
	p, err := planPage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out, err := ds.Schedules(c.Request.Context(), consistency(c), p)
	for i := range out.Items {
		out.Items[i] = shownSchedule(c, out.Items[i])
	}
	s.reply(c, http.StatusOK, out, err)
}

func (s *Server) getDrill(c *gin.Context, ds Drills) {
	sc, err := ds.Get(c.Request.Context(), consistency(c), drills.ScheduleID(idParam(c)))
	s.reply(c, http.StatusOK, shownSchedule(c, sc), err)
}

// updateDrill serves POST /drills/:id/pause, /resume and DELETE /drills/:id.
func (s *Server) updateDrill(action string) func(*gin.Context, Drills) {
	return func(c *gin.Context, ds Drills) {
		ctx, actor, id := c.Request.Context(), identity(c).Name, drills.ScheduleID(idParam(c))
		var sc drills.Schedule
		var err error
		switch action {
		case drills.ActionPause:
			sc, err = ds.Pause(ctx, actor, id)
		case drills.ActionResume:
			sc, err = ds.Resume(ctx, actor, id)
		default:
			sc, err = ds.Delete(ctx, actor, id)
		}
		s.reply(c, http.StatusOK, shownSchedule(c, sc), err)
	}
}

// changeDrill serves PATCH /drills/:id: the fields the body gives change,
// the schedule keeps its ID and its runs.
func (s *Server) changeDrill(c *gin.Context, ds Drills) {
	var ch drills.ScheduleChange
	if err := decodeJSON(c, &ch); err != nil {
		s.writeError(c, err)
		return
	}
	sc, err := ds.Change(c.Request.Context(), identity(c).Name, drills.ScheduleID(idParam(c)), ch)
	s.reply(c, http.StatusOK, shownSchedule(c, sc), err)
}

// runDrill serves POST /drills/:id/run; its body, which may be left out,
// holds drills.RunOptions ({"during_recovery": true}).
func (s *Server) runDrill(c *gin.Context, ds Drills) {
	var opts drills.RunOptions
	if c.Request.ContentLength != 0 {
		if err := decodeJSON(c, &opts); err != nil {
			s.writeError(c, err)
			return
		}
	}
	r, err := ds.RunNowWith(c.Request.Context(), identity(c).Name, drills.ScheduleID(idParam(c)), opts)
	if err == nil {
		c.Header("Location", "/api/v1/drill-runs/"+string(r.ID))
	}
	s.reply(c, http.StatusCreated, r, err)
}

func (s *Server) listDrillRuns(c *gin.Context, ds Drills) {
	p, err := planPage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	f := drills.RunFilter{Schedule: drills.ScheduleID(seqID(c.Query("schedule"))), Plan: plans.PlanID(strings.TrimSpace(c.Query("plan"))),
		Status: drills.RunStatus(strings.TrimSpace(c.Query("status"))), Activation: plans.ActivationID(seqID(c.Query("activation")))}
	switch f.Status {
	case "", drills.RunStarted, drills.RunMissed, drills.RunFailed:
	default:
		s.writeError(c, muster.Errorf(muster.EInvalid, "status %q: want started, missed or failed", f.Status))
		return
	}
	out, err := ds.Runs(c.Request.Context(), consistency(c), f, p)
	s.reply(c, http.StatusOK, out, err)
}

func (s *Server) getDrillRun(c *gin.Context, ds Drills) {
	r, err := ds.GetRun(c.Request.Context(), consistency(c), drills.RunID(idParam(c)))
	s.reply(c, http.StatusOK, r, err)
}

// standDownDrillRun stands down the call-up of a drill run: a trainer ends
// the drill they run early, without the right to stand down a LIVE call-up.
func (s *Server) standDownDrillRun(c *gin.Context, ds Drills) {
	var req struct {
		Reason string `json:"reason"`
		// Notice false tells nobody the drill ended, as on a LIVE
		// call-up's stand-down: another call-up tells them what stands.
		Notice *bool `json:"notice"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	act, ok := s.runCallUp(c, ds, "stand down")
	if !ok {
		return
	}
	a, err := s.deps.Activations.StandDownWith(c.Request.Context(), identity(c).Name, act,
		notify.StandDownRequest{Reason: req.Reason, NoNotice: req.Notice != nil && !*req.Notice})
	s.reply(c, http.StatusOK, a, err)
}

// runCallUp is the call-up of the drill run in the path, to do what to
// (said in the refusal of a run that did not start); ok is false when the
// error is written.
func (s *Server) runCallUp(c *gin.Context, ds Drills, what string) (act plans.ActivationID, ok bool) {
	r, err := ds.GetRun(c.Request.Context(), muster.Default, drills.RunID(idParam(c)))
	if err == nil && r.Activation == "" {
		err = muster.Errorf(muster.EConflict, "drill run %s did not start (%s): it has no call-up to %s", r.ID, r.Status, what)
	}
	if err != nil {
		s.writeError(c, err)
		return "", false
	}
	return r.Activation, true
}

// retractDrillRun retracts the call-up of a drill run, as POST
// /activations/:id/retract does, for trainers: a wrong drill message is
// corrected (【演练】, on the exercise account) by those who sent it,
// without the right to retract a LIVE call-up.
func (s *Server) retractDrillRun(c *gin.Context, ds Drills) {
	if act, ok := s.runCallUp(c, ds, "retract"); ok {
		s.retract(c, act)
	}
}

func (s *Server) addFinding(c *gin.Context, ds Drills) {
	var in drills.FindingInput
	if err := decodeJSON(c, &in); err != nil {
		s.writeError(c, err)
		return
	}
	run := drills.RunID(idParam(c))
	if in.Run != "" && drills.RunID(seqID(string(in.Run))) != run {
		s.writeError(c, muster.Errorf(muster.EInvalid, "run %q in the body differs from %s in the path", in.Run, run))
		return
	}
	in.Run = run
	f, err := ds.AddFinding(c.Request.Context(), identity(c).Name, in)
	if err == nil {
		c.Header("Location", "/api/v1/drill-findings/"+string(f.ID))
	}
	s.reply(c, http.StatusCreated, f, err)
}

// listFindings serves GET /drill-findings (filters from the query) and
// GET /drill-runs/:id/findings (one run's).
func (s *Server) listFindings(c *gin.Context, ds Drills) {
	p, err := planPage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	f := drills.FindingFilter{Run: drills.RunID(seqID(c.Query("run"))), Plan: plans.PlanID(strings.TrimSpace(c.Query("plan")))}
	if id := idParam(c); id != "" {
		f.Run = drills.RunID(id)
		if _, err := ds.GetRun(c.Request.Context(), consistency(c), f.Run); err != nil {
			s.writeError(c, err)
			return
		}
	}
	if st := strings.TrimSpace(c.Query("status")); st != "" {
		if f.Status, err = drills.ParseFindingStatus(st); err != nil {
			s.writeError(c, err)
			return
		}
	}
	if f.OpenOnly, err = boolQuery(c, "open"); err != nil {
		s.writeError(c, err)
		return
	}
	out, err := ds.Findings(c.Request.Context(), consistency(c), f, p)
	s.reply(c, http.StatusOK, out, err)
}

func (s *Server) getFinding(c *gin.Context, ds Drills) {
	f, err := ds.Finding(c.Request.Context(), consistency(c), drills.FindingID(idParam(c)))
	s.reply(c, http.StatusOK, f, err)
}

func (s *Server) updateFinding(c *gin.Context, ds Drills) {
	var u drills.FindingUpdate
	if err := decodeJSON(c, &u); err != nil {
		s.writeError(c, err)
		return
	}
	f, err := ds.UpdateFinding(c.Request.Context(), identity(c).Name, drills.FindingID(idParam(c)), u)
	s.reply(c, http.StatusOK, f, err)
}

// openFindings lists the open improvement items per plan (?plan= for one),
// overdue ones flagged against the server's clock.
func (s *Server) openFindings(c *gin.Context, ds Drills) {
	out, err := ds.OpenFindings(c.Request.Context(), consistency(c), plans.PlanID(strings.TrimSpace(c.Query("plan"))), ds.Now())
	if out == nil {
		out = []drills.PlanFindings{}
	}
	s.reply(c, http.StatusOK, listResponse[drills.PlanFindings]{Items: out}, err)
}

func (s *Server) drillsOverdue(c *gin.Context, ds Drills) {
	out, err := ds.Overdue(c.Request.Context(), consistency(c), ds.Now())
	s.reply(c, http.StatusOK, out, err)
}

func (s *Server) drillMetrics(c *gin.Context, ds Drills) {
	m, err := ds.Metrics(c.Request.Context(), consistency(c), drills.RunID(idParam(c)), ds.Now())
	s.reply(c, http.StatusOK, m, err)
}

// reportTypes are the Content-Types of the report formats.
var reportTypes = map[drills.ReportFormat]string{
	drills.FormatHTML: "text/html; charset=utf-8",
	drills.FormatCSV:  "text/csv; charset=utf-8",
	drills.FormatJSON: "application/json; charset=utf-8",
}

// drillReport serves a run's report as HTML (default), CSV or JSON
// (?format=), in Chinese or English (?lang=zh|en), as of the server's clock.
func (s *Server) drillReport(c *gin.Context, ds Drills) {
	f, err := drills.ParseReportFormat(orDefault(c.Query("format"), string(drills.FormatHTML)))
	if err != nil {
		s.writeError(c, err)
		return
	}
	lang := plans.Language(strings.ToLower(orDefault(c.Query("lang"), string(plans.LangZH))))
	if lang != plans.LangZH && lang != plans.LangEN {
		s.writeError(c, muster.Errorf(muster.EInvalid, "lang %q: want zh or en", c.Query("lang")))
		return
	}
	id := drills.RunID(idParam(c))
	rep, err := ds.Report(c.Request.Context(), consistency(c), id, ds.Now())
	if err != nil {
		s.writeError(c, err)
		return
	}
	var buf bytes.Buffer
	if err := drills.WriteReport(&buf, rep, f, drills.ReportOptions{Lang: lang}); err != nil {
		s.writeError(c, err)
		return
	}
	if f == drills.FormatCSV {
		c.Header("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "drill-"+string(id)+".csv"))
	}
	c.Data(http.StatusOK, reportTypes[f], buf.Bytes())
}

// drillTrend compares every started run of a plan (?plan=, required).
func (s *Server) drillTrend(c *gin.Context, ds Drills) {
	plan := plans.PlanID(strings.TrimSpace(c.Query("plan")))
	if plan == "" {
		s.writeError(c, muster.Errorf(muster.EInvalid, "plan: name the plan whose runs to compare (?plan=)"))
		return
	}
	rows, err := ds.Trend(c.Request.Context(), consistency(c), plan)
	if rows == nil {
		rows = []drills.TrendRow{}
	}
	s.reply(c, http.StatusOK, listResponse[drills.TrendRow]{Items: rows}, err)
}

func orDefault(s, def string) string {
	if s = strings.TrimSpace(s); s == "" {
		return def
	}
	return s
}
