package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/cluster"
)

// AuditPage is a page of the audit chain (GET /api/v1/audit) with the
// chain's head, so that a reader knows where the chain ends while it pages.
type AuditPage struct {
	Items []cluster.AuditEntry `json:"items"`
	Next  string               `json:"next"`
	Head  cluster.AuditHead    `json:"head"`
}

// listAudit serves the audit chain: every command applied since the
// cluster's rules reached cluster.AuditRules, oldest first, paged by entry
// number, from the checkpoint once the chain was cut (head.checkpoint).
// With consistency=stale it is this node's own copy: an auditor checks
// each node's and compares their heads (muster audit verify).
func (s *Server) listAudit(c *gin.Context) {
	p, err := parsePage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var after uint64
	if p.after != "" {
		if after, err = strconv.ParseUint(p.after, 10, 64); err != nil {
			s.writeError(c, muster.Errorf(muster.EInvalid, "after %q: want the number of an audit entry", p.after))
			return
		}
	}
	items, head, err := s.deps.Cluster.Audit(c.Request.Context(), consistency(c), after, p.limit)
	out := AuditPage{Items: items, Head: head}
	if n := len(items); n == p.limit && items[n-1].Seq < head.Seq {
		out.Next = strconv.FormatUint(items[n-1].Seq, 10)
	}
	s.reply(c, http.StatusOK, out, err)
}

// cutAudit cuts the oldest entries of the audit chain, up to the last
// entry of an export the caller holds (POST /api/v1/audit/cut): one
// command, at most cluster.AuditCutMax entries; the answer's remaining
// says how many are left up to the export's last, for the next request.
// A hash that is not the chain's, or an export that starts after the
// chain does, is a conflict and cuts nothing.
func (s *Server) cutAudit(c *gin.Context) {
	var req cluster.AuditCutRequest
	if err := decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	out, err := s.deps.Cluster.CutAudit(c.Request.Context(), identity(c).Name, req)
	s.reply(c, http.StatusOK, out, err)
}
