package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"muster"
)

// errorBody is the one shape every error response has:
// {"error":{"code":"...","message":"...","details":...}}.
type errorBody struct {
	Error muster.Error `json:"error"`
}

// codeMethodNotAllowed is the code of a 405; it is an HTTP matter, not a
// muster error code.
const codeMethodNotAllowed = "method_not_allowed"

// statusOf maps a muster error code to its HTTP status. This is the only
// place that does.
func statusOf(code string) int {
	switch code {
	case muster.EInvalid:
		return http.StatusBadRequest
	case muster.EUnauthorized:
		return http.StatusUnauthorized
	case muster.EForbidden:
		return http.StatusForbidden
	case muster.ENotFound:
		return http.StatusNotFound
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case muster.EConflict:
		return http.StatusConflict
	case muster.EPrecondition:
		return http.StatusPreconditionFailed
	case muster.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case muster.ENotLeader, muster.EUnavailable, muster.ETimeout:
		return http.StatusServiceUnavailable
	case muster.EStorage:
		return http.StatusInsufficientStorage
	}
	return http.StatusInternalServerError
}

// writeError ends the request with err in the error shape. Errors without a
// muster code, and codes with no status of their own, are internal: their
// text is logged with the request ID and the client gets a generic message.
func (s *Server) writeError(c *gin.Context, err error) {
	var e *muster.Error
	if !errors.As(err, &e) {
		e = &muster.Error{Code: muster.EInternal}
	}
	status := statusOf(e.Code)
	body := muster.Error{Code: e.Code, Message: err.Error(), Details: e.Details}
	switch status {
	case http.StatusInternalServerError:
		s.logger.LogAttrs(c.Request.Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestID(c)), slog.String("method", c.Request.Method),
			slog.String("path", c.Request.URL.Path), slog.String("err", err.Error()))
		body = muster.Error{Code: muster.EInternal, Message: "internal error; the server log has the details under request id " + requestID(c)}
	case http.StatusUnauthorized:
		c.Header("WWW-Authenticate", `Bearer realm="muster"`)
	case http.StatusServiceUnavailable:
		c.Header("Retry-After", "1")
	}
	c.AbortWithStatusJSON(status, errorBody{Error: body})
}
