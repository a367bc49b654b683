package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/access"
	"muster/cluster"
)

// AuditPage is a page of the audit chain (GET /api/v1/audit) with the
// chain's head, so that a reader knows where the chain ends while it pages.
type AuditPage struct {
	Items []cluster.AuditEntry `json:"items"`
	Next  string               `json:"next"`
	Head  cluster.AuditHead    `json:"head"`
	// Holders names, by entry number, the person who held the token its
	// actor names when the entry was made, where the token records tell
	// (access.Holders.At: the live tokens and those revoked under rules
	// 13). It is read from the token records as they are now, not from
	// the chain, whose entries keep only the token's name and which it
	// leaves as it is.
	Holders map[string]string `json:"holders,omitempty"`
}

// tokenHolders is what listAudit needs of token management to name the
// holders of the tokens an audit page names (access.Service).
type tokenHolders interface {
	Holders(ctx context.Context, level muster.Consistency) (access.Holders, error)
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
	if th, ok := s.deps.Tokens.(tokenHolders); ok && err == nil && len(items) > 0 {
		var h access.Holders
		if h, err = th.Holders(c.Request.Context(), consistency(c)); err == nil {
			out.Holders = map[string]string{}
			for _, e := range items {
				if holder, ok := h.At(e.Actor, e.Time); ok {
					out.Holders[strconv.FormatUint(e.Seq, 10)] = holder
				}
			}
		}
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
