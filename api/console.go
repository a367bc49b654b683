package api

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"muster"
)

// consoleFiles is the web console: one page and its script and style,
// served as they are. The page holds no data; it reads everything from the
// authenticated /api/v1 API with the token the user gives it.
//
//go:embed console
var consoleFiles embed.FS

// consoleIndex is the console's page, served at /; the other files of
// console/ are served under /console/.
const consoleIndex = "index.html"

// pageHeaders go on every page and file muster serves to a browser (the
// console and the responder page): it may load and post to its own origin
// only (no inline script or style, no other host), is never framed, and
// sends no Referer.
var pageHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
}

// setPageHeaders sets pageHeaders and then extra on c's response.
func setPageHeaders(c *gin.Context, extra map[string]string) {
	h := c.Writer.Header()
	for _, set := range []map[string]string{pageHeaders, extra} {
		for k, v := range set {
			h.Set(k, v)
		}
	}
}

// consoleHeaders go on every console response besides pageHeaders: it is
// revalidated on every load so an upgraded node serves its new console at
// once.
var consoleHeaders = map[string]string{"Cache-Control": "no-cache"}

// consoleTypes are the content types of the console's files, by extension.
// A console file with any other extension makes newConsole panic, so every
// test of the package fails until its type is added here.
var consoleTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// consoleFile is one file of the console, ready to serve.
type consoleFile struct {
	name        string
	contentType string
	etag        string
	body        []byte
}

// console serves the embedded console files.
type console struct {
	files map[string]consoleFile // by name in console/
}

// newConsole reads the embedded files once. It panics on a file it cannot
// serve (an extension missing from consoleTypes) or a missing page: a fault
// of the build, which every test of the package catches.
func newConsole() *console {
	files := map[string]consoleFile{}
	err := fs.WalkDir(consoleFiles, "console", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := consoleTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("console file %s: no content type for its extension", p)
		}
		body, err := consoleFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(p, "console/")
		files[name] = consoleFile{name: name, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, body: body}
		return nil
	})
	if err == nil && files[consoleIndex].body == nil {
		err = fmt.Errorf("console/%s is missing", consoleIndex)
	}
	if err != nil {
		panic(fmt.Sprintf("embedded console: %v", err))
	}
	return &console{files: files}
}

// consolePage serves the console's page.
func (s *Server) consolePage(con *console) gin.HandlerFunc {
	return func(c *gin.Context) {
		con.serve(c, con.files[consoleIndex])
	}
}

// consoleAsset serves /console/{file}: any console file but the page
// itself, which lives at /. Other names are not found, in the error shape.
func (s *Server) consoleAsset(con *console) gin.HandlerFunc {
	return func(c *gin.Context) {
		name := strings.TrimPrefix(c.Param("file"), "/")
		f, ok := con.files[name]
		if !ok || name == consoleIndex {
			s.writeError(c, muster.Errorf(muster.ENotFound, "no console file %q", name))
			return
		}
		con.serve(c, f)
	}
}

// serve writes f with the console headers, answering 304 to a request that
// has it already (If-None-Match).
func (con *console) serve(c *gin.Context, f consoleFile) {
	setPageHeaders(c, consoleHeaders)
	h := c.Writer.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	// ServeContent handles conditional and range requests; the files carry
	// no modification time (embed has none), so the ETag alone validates.
	http.ServeContent(c.Writer, c.Request, f.name, time.Time{}, bytes.NewReader(f.body))
}
