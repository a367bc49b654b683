package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"muster"
)

// decodeJSON reads the request body as one JSON object into v, refusing
// unknown fields and trailing data, with messages that say what to fix.
func decodeJSON(c *gin.Context, v any) error {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = terr
			if err == nil {
				err = errors.New("trailing data after the JSON object")
			}
		}
	}
	if err == nil {
		return nil
	}
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		large  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &large):
		return tooLarge(large.Limit)
	case errors.Is(err, io.EOF):
		return muster.Errorf(muster.EInvalid, "request body is empty: want a JSON object")
	case errors.As(err, &syntax):
		return muster.Errorf(muster.EInvalid, "request body is not valid JSON (at byte %d): %v", syntax.Offset, err)
	case errors.As(err, &typ):
		return muster.Errorf(muster.EInvalid, "field %q: want %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	}
	return muster.Errorf(muster.EInvalid, "request body: %v", err)
}

// Pagination bounds for list endpoints.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// page is a list request's ?limit= and ?after=.
type page struct {
	limit int
	after string // the last key of the previous page; "" for the first
}

// parsePage reads ?limit= (1–1000, default 100) and ?after=.
func parsePage(c *gin.Context) (page, error) {
	p := page{limit: defaultLimit, after: c.Query("after")}
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return page{}, muster.Errorf(muster.EInvalid, "limit %q: want a whole number from 1 to %d", s, maxLimit)
		}
		p.limit = n
	}
	return p, nil
}

// listResponse is the shape of every list: a page of items and the cursor
// for the next page, "" on the last.
type listResponse[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// paginate cuts one page out of items, which must be sorted by key.
func paginate[T any](items []T, key func(T) string, p page) listResponse[T] {
	start := 0
	if p.after != "" {
		for start < len(items) && key(items[start]) <= p.after {
			start++
		}
	}
	end := min(start+p.limit, len(items))
	out := listResponse[T]{Items: append([]T{}, items[start:end]...)}
	if end < len(items) && end > start {
		out.Next = key(items[end-1])
	}
	return out
}
