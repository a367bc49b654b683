package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/plans"
)

// Warnings is what api needs of warnings (plans.WarningService).
type Warnings interface {
	Issue(ctx context.Context, actor string, in plans.WarningInput) (plans.Warning, error)
	Lift(ctx context.Context, actor string, id plans.WarningID, reason string) (plans.Warning, error)
	Warning(ctx context.Context, level muster.Consistency, id plans.WarningID) (plans.Warning, error)
	Warnings(ctx context.Context, level muster.Consistency, f plans.WarningFilter, page plans.Page) (plans.List[plans.Warning], error)
}

// warningsDep is the warnings service, or an unavailable error on a server
// built without one.
func (s *Server) warningsDep() (Warnings, error) {
	if s.deps.Warnings == nil {
		return nil, muster.Errorf(muster.EUnavailable, "this node does not serve warnings")
	}
	return s.deps.Warnings, nil
}

// warningRequest is the body of POST /warnings: the times are read here so
// that a bad one gets a message saying what is expected.
type warningRequest struct {
	plans.WarningInput
	Expires   string `json:"expires,omitempty"`
	ExpiresIn string `json:"expires_in,omitempty"`
}

func (r warningRequest) input() (plans.WarningInput, error) {
	in := r.WarningInput
	if s := strings.TrimSpace(r.Expires); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return in, muster.Errorf(muster.EInvalid, "expires %q: want an RFC 3339 time such as 2026-07-20T18:00:00+08:00", r.Expires)
		}
		in.Expires = t
	}
	if s := strings.TrimSpace(r.ExpiresIn); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return in, muster.Errorf(muster.EInvalid, "expires_in %q: want a positive duration such as 6h or 90m", r.ExpiresIn)
		}
		in.ExpiresIn = plans.Duration(d)
	}
	return in, nil
}

func (s *Server) issueWarning(c *gin.Context) {
	ws, err := s.warningsDep()
	if err != nil {
		s.writeError(c, err)
		return
	}
	var req warningRequest
	if err := decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	in, err := req.input()
	if err != nil {
		s.writeError(c, err)
		return
	}
	w, err := ws.Issue(c.Request.Context(), identity(c).Name, in)
	if err == nil {
		c.Header("Location", "/api/v1/warnings/"+string(w.ID))
	}
	s.reply(c, http.StatusCreated, w, err)
}

func (s *Server) listWarnings(c *gin.Context) {
	ws, err := s.warningsDep()
	if err != nil {
		s.writeError(c, err)
		return
	}
	p, err := planPage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var f plans.WarningFilter
	if f.Active, err = boolQuery(c, "active"); err != nil {
		s.writeError(c, err)
		return
	}
	if f.Unanswered, err = boolQuery(c, "unanswered"); err != nil {
		s.writeError(c, err)
		return
	}
	out, err := ws.Warnings(c.Request.Context(), consistency(c), f, p)
	s.reply(c, http.StatusOK, out, err)
}

func (s *Server) getWarning(c *gin.Context) {
	ws, err := s.warningsDep()
	if err != nil {
		s.writeError(c, err)
		return
	}
	w, err := ws.Warning(c.Request.Context(), consistency(c), plans.WarningID(idParam(c)))
	s.reply(c, http.StatusOK, w, err)
}

func (s *Server) liftWarning(c *gin.Context) {
	ws, err := s.warningsDep()
	if err != nil {
		s.writeError(c, err)
		return
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	w, err := ws.Lift(c.Request.Context(), identity(c).Name, plans.WarningID(idParam(c)), req.Reason)
	s.reply(c, http.StatusOK, w, err)
}
