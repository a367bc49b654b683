package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A node without the inbound path (no Deps.Webhooks) says it cannot take
// answers now, on a page, rather than failing in JSON.
func TestResponderPageNeedsInbound(t *testing.T) {
	h := stubServer().Handler()
	for _, method := range []string{"GET", "POST"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/r/AAAAAAAAAAAAAAAAAAAAAA", nil))
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, method)
		assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
		assert.Contains(t, rec.Body.String(), "暂时无法处理")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/r/page.css", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/css; charset=utf-8", rec.Header().Get("Content-Type"))
}
