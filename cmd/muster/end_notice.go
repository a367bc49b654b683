package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"muster/notify"
)

// printEndNotice says, after a stand-down answered with raw (the call-up
// stood down), whom its end notice tells that it has ended, or that
// --no-notice told nobody; nothing when there was no one to tell. The
// stand-down is done whatever the lookup of the notice's recipients finds.
func printEndNotice(c *client, w io.Writer, raw []byte, noNotice bool) {
	var a notify.Activation
	if json.Unmarshal(raw, &a) != nil {
		return
	}
	switch {
	case a.EndNotice != "":
		var n struct {
			Recipients int `json:"recipients"`
		}
		if c.do(request{method: http.MethodGet, path: "/api/v1/activations/" + url.PathEscape(string(a.EndNotice))}, &n) != nil {
			fmt.Fprintf(w, "end notice %s tells the people %s reached that it has ended (muster status %s)\n", a.EndNotice, a.ID, a.EndNotice)
			return
		}
		fmt.Fprintf(w, "end notice %s goes to %s (muster status %s)\n", a.EndNotice, count(n.Recipients, "person", "people"), a.EndNotice)
	case noNotice:
		fmt.Fprintln(w, "nobody is told that it ended (--no-notice)")
	}
}

// endsCallUp reports whether a is the end notice of a call-up stood down
// (its Retracts names that call-up), not a correction of one retracted.
func endsCallUp(a notify.Activation) bool {
	return a.Retracts != "" && (a.EndsCallUp || a.EndsDrill)
}
