package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/cases"

	"muster"
)

// decodeJSON reads the request body as one JSON object into v, refusing
// unknown fields, a key given twice in one object (names match without
// regard to case, so {"dry_run":true,"DRY_RUN":false} would otherwise be
// read as its last) and trailing data, with messages that say what to fix.
func decodeJSON(c *gin.Context, v any) error {
	body, err := io.ReadAll(c.Request.Body)
	var large *http.MaxBytesError
	if errors.As(err, &large) {
		return tooLarge(large.Limit)
	} else if err != nil {
		return muster.Errorf(muster.EInvalid, "request body: %v", err)
	}
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] != '{' {
		if json.Valid(t) {
			return muster.Errorf(muster.EInvalid, "request body: want a JSON object, got %s", jsonKind(t[0]))
		}
	} else if err := duplicateKey(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
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
	)
	switch {
	case errors.Is(err, io.EOF):
		return muster.Errorf(muster.EInvalid, "request body is empty: want a JSON object")
	case errors.As(err, &syntax):
		return muster.Errorf(muster.EInvalid, "request body is not valid JSON (at byte %d): %v", syntax.Offset, err)
	case errors.As(err, &typ):
		return muster.Errorf(muster.EInvalid, "field %q: want %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	}
	return muster.Errorf(muster.EInvalid, "request body: %v", err)
}

// jsonKind names the JSON value that starts with b.
func jsonKind(b byte) string {
	switch b {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// duplicateKey reports the first key given twice in one object of the
// JSON document body (compared case-folded, as encoding/json matches field
// names: "ſ" is "s" and "K" (Kelvin) is "k" there), or nil. A document that
// is not valid JSON is left to the decoder to describe.
func duplicateKey(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	fold := cases.Fold()
	var walk func() error
	walk = func() error {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				folded := fold.String(key)
				if seen[folded] {
					return muster.Errorf(muster.EInvalid, "request body: key %q is given twice", key)
				}
				seen[folded] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token() // }
			return err
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token() // ]
			return err
		}
		return nil
	}
	if err := walk(); muster.IsCode(err, muster.EInvalid) {
		return err
	}
	return nil
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

// seqID is an ID muster numbers itself (A000001, W000001, D000001,
// R000001, F000001) as the caller typed it, with its letter in upper case:
// a000001 names A000001. Anything else is returned as given.
func seqID(s string) string {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return s
		}
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// idParam is the path's :id as a seqID.
func idParam(c *gin.Context) string { return seqID(c.Param("id")) }
