package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"muster"
	"muster/access"
)

// createTokenRequest is the body of POST /tokens.
type createTokenRequest struct {
	Name   string `json:"name"`
	Holder string `json:"holder"` // the person it is issued to; empty: the name stands for them
	Phone  string `json:"phone"`  // the holder's mobile; approvers and commanders with one are texted about requests awaiting approval
	Role   string `json:"role"`
	// ReuseName takes the name of a revoked token on purpose (rules 13).
	ReuseName bool `json:"reuse_name"`
}

// createdToken is the answer to POST /tokens: the token and, this once, its
// secret.
type createdToken struct {
	access.Token
	Secret string `json:"secret"`
}

func (s *Server) listTokens(c *gin.Context) {
	p, err := parsePage(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	toks, err := s.deps.Tokens.List(c.Request.Context(), consistency(c))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, paginate(toks, func(t access.Token) string { return string(t.ID) }, p))
}

func (s *Server) createToken(c *gin.Context) {
	var req createTokenRequest
	if err := decodeJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	if req.Role == "" {
		s.writeError(c, muster.Errorf(muster.EInvalid, "role is required"))
		return
	}
	role, err := access.ParseRole(req.Role)
	if err != nil {
		s.writeError(c, err)
		return
	}
	secret, tok, err := s.deps.Tokens.CreateToken(c.Request.Context(), identity(c).Name, access.NewToken{Name: req.Name, Holder: req.Holder, Phone: req.Phone, Role: role, ReuseName: req.ReuseName})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Location", "/api/v1/tokens/"+string(tok.ID))
	c.JSON(http.StatusCreated, createdToken{Token: tok, Secret: secret})
}

func (s *Server) revokeToken(c *gin.Context) {
	if err := s.deps.Tokens.Revoke(c.Request.Context(), identity(c).Name, access.TokenID(c.Param("id"))); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
