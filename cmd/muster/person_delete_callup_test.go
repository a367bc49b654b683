package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Against muster dev: deleting someone silent on a running call-up names
// that call-up, what it will still do and how to take them off it;
// muster recipient cancel does, the status counts them as cancelled (the
// counts still add up to the recipients), the audit names who did it, and
// doing it twice is refused. Someone on no call-up is just deleted.
func TestPersonDeleteNamesTheCallUpsThatStillCallThem(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	addr := freePort(t)
	dev := startProc(t, "dev", nil, "dev", "--data-dir", filepath.Join(t.TempDir(), "data"), "--http-addr", addr, "--people", "1500", "--log-level", "warn")
	token := strings.Fields(dev.waitOutput("admin token:", 60*time.Second))[0]
	env := []string{"MUSTER_ADDR=http://" + addr, "MUSTER_TOKEN=" + token}
	api := newAPI(t, token)

	r := runCLI(t, env, "activate", "flood-control", "--region", "990101", "--level", "IV", "--purpose", "exercise", "--reason", "防汛通讯演练", "--yes", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var a struct {
		ID         string `json:"id"`
		Recipients int    `json:"recipients"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &a), r.stdout)
	require.Positive(t, a.Recipients)
	base := "http://" + addr + "/api/v1/activations/" + a.ID

	// Someone the call-up reached, silent (the built-in simulator answers
	// nothing).
	type recipient struct {
		Person string `json:"person"`
		Phone  string `json:"phone"`
		State  string `json:"state"`
	}
	var silent recipient
	deadline := time.Now().Add(60 * time.Second)
	for silent.Person == "" {
		var l struct {
			Items []recipient `json:"items"`
		}
		require.Equal(t, http.StatusOK, api.getJSON(base+"/recipients?state=delivered&limit=1", &l))
		if len(l.Items) > 0 {
			silent = l.Items[0]
			break
		}
		require.True(t, time.Now().Before(deadline), "nobody of %s was delivered within 60 s", a.ID)
		time.Sleep(50 * time.Millisecond)
	}

	r = runCLI(t, env, "person", "delete", silent.Person)
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, "person "+silent.Person+" deleted\n")
	assert.Contains(t, r.stdout, "still called up by "+a.ID+" (EXERCISE, ")
	assert.Contains(t, r.stdout, "delivered): silent: reminders and calls go on, and their superior is told, to "+silent.Phone+"\n")
	assert.Contains(t, r.stdout, "to stop it: muster recipient cancel "+a.ID+" "+silent.Person+" --reason TEXT\n")

	r = runCLI(t, env, "recipient", "cancel", a.ID, silent.Person, "--reason", "已离职，号码停用")
	require.Zero(t, r.code, r.stderr)
	assert.Contains(t, r.stdout, silent.Person)
	assert.Contains(t, r.stdout, "taken off call-up "+a.ID)
	assert.Contains(t, r.stdout, "(was delivered): nothing more of it is sent to "+silent.Phone)
	oneLineError(t, runCLI(t, env, "recipient", "cancel", a.ID, silent.Person, "--reason", "again"), 1, "was taken off call-up "+a.ID)

	var st struct {
		Recipients int `json:"recipients"`
		Counters   struct {
			Total   int            `json:"total"`
			ByState map[string]int `json:"by_state"`
		} `json:"counters"`
	}
	require.Equal(t, http.StatusOK, api.getJSON(base, &st))
	assert.Equal(t, 1, st.Counters.ByState["cancelled"])
	assert.Equal(t, a.Recipients, st.Counters.Total, "the counts add up to the recipients")
	r = runCLI(t, env, "status", a.ID)
	require.Zero(t, r.code, r.stderr)
	assert.Regexp(t, `ESCALATED\s+CANCELLED\n`, r.stdout, "status shows the cancelled column when any")

	// The audit chain names who took them off.
	var actors []string
	after := ""
	for {
		var page struct {
			Items []struct {
				Type  string `json:"type"`
				Actor string `json:"actor"`
			} `json:"items"`
			Next string `json:"next"`
		}
		require.Equal(t, http.StatusOK, api.getJSON("http://"+addr+"/api/v1/audit?limit=1000&after="+url.QueryEscape(after), &page))
		for _, e := range page.Items {
			if e.Type == "recipient.cancel" {
				actors = append(actors, e.Actor)
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	require.Len(t, actors, 1, "one cancel applied")
	assert.NotEmpty(t, actors[0])

	// Someone no call-up calls up is deleted without more.
	var people struct {
		Items []struct {
			ID   string `json:"id"`
			Grid string `json:"grid"`
		} `json:"items"`
	}
	require.Equal(t, http.StatusOK, api.getJSON("http://"+addr+"/api/v1/people?region=990106&limit=20", &people))
	var called struct {
		Items []recipient `json:"items"`
	}
	other := ""
	for _, p := range people.Items {
		require.Equal(t, http.StatusOK, api.getJSON(base+"/recipients?limit=1000&grid="+p.Grid, &called))
		if !strings.Contains(string(mustJSON(called)), `"`+p.ID+`"`) {
			other = p.ID
			break
		}
	}
	require.NotEmpty(t, other, "someone in 990106 the call-up does not call up")
	r = runCLI(t, env, "person", "delete", other)
	require.Zero(t, r.code, r.stderr)
	assert.Equal(t, "person "+other+" deleted\n", r.stdout)
}
