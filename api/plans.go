package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/notify"
	"muster/plans"
)

// Plans is what api needs of regions, people, roster imports and plans
// (plans.Service).
type Plans interface {
	ImportRegions(ctx context.Context, actor string, r io.Reader) (plans.RegionImportResult, error)
	Region(ctx context.Context, level muster.Consistency, code plans.RegionCode) (plans.Region, error)
	Regions(ctx context.Context, level muster.Consistency, f plans.RegionFilter, page plans.Page) (plans.List[plans.Region], error)

	CreatePerson(ctx context.Context, actor string, in plans.PersonInput) (plans.Person, error)
	UpdatePersonIfMatch(ctx context.Context, actor string, id plans.PersonID, in plans.PersonInput, etag string) (plans.Person, error)
	DeletePerson(ctx context.Context, actor string, id plans.PersonID) error
	Person(ctx context.Context, level muster.Consistency, id plans.PersonID) (plans.Person, error)
	People(ctx context.Context, level muster.Consistency, f plans.PeopleFilter, page plans.Page) (plans.List[plans.Person], error)
	ImportRoster(ctx context.Context, actor string, r io.Reader, opts plans.ImportOptions) (plans.ImportResult, error)

	ApplyPlan(ctx context.Context, actor, filename string, src []byte) (plans.PlanApplyResult, error)
	Plan(ctx context.Context, level muster.Consistency, id plans.PlanID, version int) (plans.PlanVersion, error)
	PlanVersions(ctx context.Context, level muster.Consistency, id plans.PlanID) ([]plans.PlanVersion, error)
	Plans(ctx context.Context, level muster.Consistency, page plans.Page) (plans.List[plans.PlanSummary], error)
}

// Body limits for uploads bigger than ordinary requests.
const (
	// RosterImportMaxBody fits a 1,000,000-row roster file with room to spare.
	RosterImportMaxBody = plans.MaxImportBytes
	// RegionImportMaxBody fits the region tree of a large city.
	RegionImportMaxBody = 32 << 20
)

// readBody reads the whole request body, turning the body limit into 413.
func readBody(c *gin.Context) ([]byte, error) {
	data, err := io.ReadAll(c.Request.Body)
	var large *http.MaxBytesError
	if errors.As(err, &large) {
		return nil, tooLarge(large.Limit)
	}
	if err != nil {
		return nil, muster.Errorf(muster.EInvalid, "read request body: %v", err)
	}
	if len(data) == 0 {
		return nil, muster.Errorf(muster.EInvalid, emptyBody)
	}
	return data, nil
}

// emptyBody is readBody's refusal of an empty body.
const emptyBody = "request body is empty"

func boolQuery(c *gin.Context, name string) (bool, error) {
	v, ok := c.GetQuery(name)
	if !ok || v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, muster.Errorf(muster.EInvalid, "%s=%q: want true or false", name, v)
	}
	return b, nil
}

func planPage(c *gin.Context) (plans.Page, error) {
	p, err := parsePage(c)
	return plans.Page{Limit: p.limit, After: p.after}, err
}

// ----- regions -----

func (s *Server) listRegions(c *gin.Context) {
	p, err := planPage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	f := plans.RegionFilter{Parent: plans.RegionCode(c.Query("parent"))}
	if k := c.Query("kind"); k != "" {
		if f.Kind, err = plans.ParseRegionKind(k); err != nil {
			s.writeError(c, err)
			return
		}
	}
	out, err := s.deps.Plans.Regions(c.Request.Context(), consistency(c), f, p)
	s.reply(c, http.StatusOK, out, err)
}

func (s *Server) getRegion(c *gin.Context) {
	r, err := s.deps.Plans.Region(c.Request.Context(), consistency(c), plans.RegionCode(c.Param("code")))
	s.reply(c, http.StatusOK, r, err)
}

func (s *Server) importRegions(c *gin.Context) {
	data, err := readBody(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	res, err := s.deps.Plans.ImportRegions(c.Request.Context(), identity(c).Name, bytes.NewReader(data))
	s.reply(c, http.StatusOK, res, err)
}

// ----- people -----

func (s *Server) listPeople(c *gin.Context) {
	p, err := planPage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	f := plans.PeopleFilter{Region: plans.RegionCode(c.Query("region")), Tag: c.Query("tag"), Team: c.Query("team"),
		ExternalID: strings.TrimSpace(c.Query("external_id"))}
	if v := c.Query("category"); v != "" {
		if f.Category, err = plans.ParseCategory(v); err != nil {
			s.writeError(c, err)
			return
		}
	}
	if v := c.Query("phone"); v != "" {
		if f.Phone, err = plans.NormalizePhone(v); err != nil {
			s.writeError(c, muster.Errorf(muster.EInvalid, "phone: %v", err))
			return
		}
	}
	out, err := s.deps.Plans.People(c.Request.Context(), consistency(c), f, p)
	s.reply(c, http.StatusOK, out, err)
}

func (s *Server) getPerson(c *gin.Context) {
	p, err := s.deps.Plans.Person(c.Request.Context(), consistency(c), plans.PersonID(c.Param("id")))
	if err == nil {
		c.Header("ETag", p.ETag())
	}
	s.reply(c, http.StatusOK, p, err)
}

func (s *Server) createPerson(c *gin.Context) {
	var in plans.PersonInput
	if err := decodeJSON(c, &in); err != nil {
		s.writeError(c, err)
		return
	}
	p, err := s.deps.Plans.CreatePerson(c.Request.Context(), identity(c).Name, in)
	if err == nil {
		c.Header("Location", "/api/v1/people/"+string(p.ID))
	}
	s.reply(c, http.StatusCreated, p, err)
}

func (s *Server) updatePerson(c *gin.Context) {
	var in plans.PersonInput
	if err := decodeJSON(c, &in); err != nil {
		s.writeError(c, err)
		return
	}
	// If-Match: the version the change was made from (GET's ETag); a person
	// changed since is 412, so two keepers at once do not undo each other.
	etag := strings.TrimSpace(c.GetHeader("If-Match"))
	if etag == "*" {
		etag = "" // any version: the person must exist, as it must anyway
	} else if etag != "" && !strings.HasPrefix(etag, `"`) {
		etag = `"` + etag + `"` // sent without HTTP's quotes
	}
	p, err := s.deps.Plans.UpdatePersonIfMatch(c.Request.Context(), identity(c).Name, plans.PersonID(c.Param("id")), in, etag)
	if err == nil {
		c.Header("ETag", p.ETag())
	}
	s.reply(c, http.StatusOK, p, err)
}

// PersonDeleted is the answer to deleting a person: who, and the open
// call-ups that still call them up. A call-up keeps its own copy of its
// people, so those go on sending to them until each is stood down or
// takes them off (notify.Service.CancelRecipient).
type PersonDeleted struct {
	Deleted plans.PersonID        `json:"deleted"`
	CallUps []notify.PersonCallUp `json:"call_ups"`
	// CallUpsError says why the call-ups could not be read; the person is
	// deleted all the same.
	CallUpsError string `json:"call_ups_error,omitempty"`
}

func (s *Server) deletePerson(c *gin.Context) {
	id := plans.PersonID(c.Param("id"))
	if err := s.deps.Plans.DeletePerson(c.Request.Context(), identity(c).Name, id); err != nil {
		s.writeError(c, err)
		return
	}
	out := PersonDeleted{Deleted: id, CallUps: []notify.PersonCallUp{}}
	if s.deps.Activations != nil {
		// Read at least as new as the delete (the leader applied it).
		ups, err := s.deps.Activations.CallUpsOf(c.Request.Context(), muster.Default, id)
		if err != nil {
			s.logger.Warn("person deleted; its open call-ups unread", "person", id, "err", err)
			out.CallUpsError = err.Error()
		} else {
			out.CallUps = ups
		}
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) importRoster(c *gin.Context) {
	var opts plans.ImportOptions
	var err error
	if opts.DryRun, err = boolQuery(c, "dry_run"); err != nil {
		s.writeError(c, err)
		return
	}
	if opts.SkipInvalid, err = boolQuery(c, "skip_invalid"); err != nil {
		s.writeError(c, err)
		return
	}
	if opts.AllowRenames, err = boolQuery(c, "allow_renames"); err != nil {
		s.writeError(c, err)
		return
	}
	data, err := readBody(c)
	if e := (*muster.Error)(nil); errors.As(err, &e) && e.Message == emptyBody {
		// An empty file, as its name says (muster roster import gives it).
		name := c.Query("filename")
		if name == "" || name == "-" {
			name = "(standard input)"
		}
		err = muster.Errorf(muster.EInvalid, "roster file %s is empty: it has no header row and no rows", name)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	if !opts.DryRun {
		// Once the whole file is here, the import goes on to its end (all
		// of it or, refused, none) if the client goes away: an interrupted
		// client would otherwise leave it done or not by the moment it
		// left, and could not tell which.
		ctx = context.WithoutCancel(ctx)
	}
	res, err := s.deps.Plans.ImportRoster(ctx, identity(c).Name, bytes.NewReader(data), opts)
	s.reply(c, http.StatusOK, res, err)
}

// ----- plans -----

func (s *Server) listPlans(c *gin.Context) {
	p, err := planPage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out, err := s.deps.Plans.Plans(c.Request.Context(), consistency(c), p)
	s.reply(c, http.StatusOK, out, err)
}

func (s *Server) applyPlan(c *gin.Context) {
	data, err := readBody(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	name := c.Query("filename")
	if name == "" {
		name = "plan.yaml"
	}
	// A file that does not decode is left to ApplyPlan to report.
	var p *plans.Plan
	if text, err := plans.PlanText(name, data); err == nil {
		p, _ = plans.DecodePlan(name, text)
	}
	lost, err := s.levelsStillDrilled(c.Request.Context(), p)
	if err != nil {
		s.writeError(c, err)
		return
	}
	force := c.Query("force") == "true"
	if len(lost) > 0 && !force {
		s.writeError(c, muster.Errorf(muster.EConflict, "plan %s: this file has no level that drill schedule %s uses, so it would fail at its next due time: "+
			"change or delete the schedule first, or apply anyway with --force (force=true in the API)", p.ID, strings.Join(lost, ", ")))
		return
	}
	res, err := s.deps.Plans.ApplyPlan(c.Request.Context(), identity(c).Name, name, data)
	if err == nil && force && res.Changed {
		// Stored by force: the schedules it breaks are said again, as
		// their next due time will fail.
		for _, l := range lost {
			res.Warnings = append(res.Warnings, fmt.Sprintf("drill schedule %s: this version has no such level, so the schedule fails at its next due time: change its level (muster drill update) or delete it", l))
		}
	}
	if err == nil && p != nil && s.deps.Drills != nil {
		// Stored all the same: a drill schedule the new scope leaves out
		// is told, not a reason to refuse the plan.
		w, werr := s.deps.Drills.ScopeWarnings(c.Request.Context(), muster.Default, p.ID, p.Scope)
		if werr != nil {
			w = []string{fmt.Sprintf("the plan's drill schedules were not checked against its scope: %v", werr)}
		}
		res.Warnings = append(res.Warnings, w...)
	}
	status := http.StatusOK
	if res.Changed {
		status = http.StatusCreated
		c.Header("Location", "/api/v1/plans/"+string(res.PlanID)+"/versions/"+strconv.Itoa(res.Version))
	}
	s.reply(c, status, res, err)
}

// levelsStillDrilled lists the drill schedules of plan file p that use a
// level it drops (ID, title and level): each would fail at its next due
// time. A file that does not decode (p nil) is left to ApplyPlan to
// report.
func (s *Server) levelsStillDrilled(ctx context.Context, p *plans.Plan) ([]string, error) {
	if s.deps.Drills == nil || p == nil {
		return nil, nil
	}
	var lost []string
	page := plans.Page{Limit: 1000}
	for {
		l, err := s.deps.Drills.Schedules(ctx, muster.Default, page)
		if err != nil {
			return nil, err
		}
		for _, sc := range l.Items {
			if sc.Plan == p.ID && p.Level(sc.Level) == nil {
				lost = append(lost, fmt.Sprintf("%s %q (level %s)", sc.ID, sc.Title, sc.Level))
			}
		}
		if l.Next == "" {
			break
		}
		page.After = l.Next
	}
	return lost, nil
}

func (s *Server) getPlan(c *gin.Context) {
	v, err := s.deps.Plans.Plan(c.Request.Context(), consistency(c), plans.PlanID(c.Param("id")), 0)
	s.reply(c, http.StatusOK, v, err)
}

func (s *Server) getPlanVersion(c *gin.Context) {
	n, err := strconv.Atoi(c.Param("version"))
	if err != nil || n < 1 {
		s.writeError(c, muster.Errorf(muster.EInvalid, "version %q: want a whole number from 1", c.Param("version")))
		return
	}
	v, err := s.deps.Plans.Plan(c.Request.Context(), consistency(c), plans.PlanID(c.Param("id")), n)
	s.reply(c, http.StatusOK, v, err)
}

func (s *Server) listPlanVersions(c *gin.Context) {
	vs, err := s.deps.Plans.PlanVersions(c.Request.Context(), consistency(c), plans.PlanID(c.Param("id")))
	s.reply(c, http.StatusOK, listResponse[plans.PlanVersion]{Items: vs}, err)
}

// reply writes v with status, or the error.
func (s *Server) reply(c *gin.Context, status int, v any, err error) {
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(status, v)
}
