package api

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"muster/access"
)

// Whoami is the answer to GET /api/v1/whoami: who the request's token is
// and what its role lets it do, as the routes check it. A client (the
// console) shows or leaves out what it offers by it; the server still
// decides each request, and some it refuses whatever the role (a
// requester approving their own request).
type Whoami struct {
	TokenID access.TokenID `json:"token_id"`
	// Name is the token's name: the actor its requests are recorded under.
	Name   string      `json:"name"`
	Holder string      `json:"holder"` // the person holding the token
	Role   access.Role `json:"role"`
	// Permissions are the actions the role grants, of those some route
	// requires, in order.
	Permissions []access.Action `json:"permissions"`
	// May says for each of whoamiOperations whether the role has the
	// action its route requires.
	May map[string]bool `json:"may"`
}

// whoamiOperations are the requests whoami answers for by name, each with
// the route that takes it: what a console offers on a call-up's board.
var whoamiOperations = map[string]string{
	"activate":   "POST /api/v1/activations",
	"approve":    "POST /api/v1/activations/:id/approve",
	"reject":     "POST /api/v1/activations/:id/reject",
	"stand_down": "POST /api/v1/activations/:id/stand-down",
	"retract":    "POST /api/v1/activations/:id/retract",
}

// whoami answers any valid token, whatever its role, with what it is and
// may do. It reads the action each route was registered with (s.actions),
// so it says what the routes' permission checks do.
func (s *Server) whoami(c *gin.Context) {
	who := identity(c)
	out := Whoami{TokenID: who.TokenID, Name: who.Name, Holder: who.Holder, Role: who.Role,
		Permissions: []access.Action{}, May: map[string]bool{}}
	for _, a := range s.actions {
		if a != "" && access.Allowed(who.Role, a) && !slices.Contains(out.Permissions, a) {
			out.Permissions = append(out.Permissions, a)
		}
	}
	slices.Sort(out.Permissions)
	for name, route := range whoamiOperations {
		a, ok := s.actions[route]
		out.May[name] = ok && (a == "" || access.Allowed(who.Role, a))
	}
	c.JSON(http.StatusOK, out)
}
