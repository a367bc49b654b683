package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/plans"
)

// listNotes returns an activation's notes: replies that were not answers.
func (s *Server) listNotes(c *gin.Context) {
	out, err := s.deps.Activations.Notes(c.Request.Context(), consistency(c), plans.ActivationID(idParam(c)))
	s.reply(c, http.StatusOK, gin.H{"items": out}, err)
}

// listInboundAudit returns inbound messages that reached no open call-up:
// replies from unknown numbers or from people with none, and reports for
// unknown attempts. ?after=SEQ pages on; ?limit bounds the page.
func (s *Server) listInboundAudit(c *gin.Context) {
	var after uint64
	if a := c.Query("after"); a != "" {
		v, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			s.writeError(c, muster.Errorf(muster.EInvalid, "after %q: want the seq of the last record seen", a))
			return
		}
		after = v
	}
	limit := 0
	if l := c.Query("limit"); l != "" {
		v, err := strconv.Atoi(l)
		if err != nil || v <= 0 {
			s.writeError(c, muster.Errorf(muster.EInvalid, "limit %q: want a positive number", l))
			return
		}
		limit = v
	}
	out, err := s.deps.Activations.InboundAudit(c.Request.Context(), consistency(c), after, limit)
	s.reply(c, http.StatusOK, gin.H{"items": out}, err)
}
