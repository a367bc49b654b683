package api_test

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// A second commander who activates another plan over people a LIVE
// call-up has called up already (the epidemic plan over the flood's
// districts) is told so by the preview: how many of its people, and by
// which call-ups how many each. It is not refused. Someone an operator
// took off a call-up is not counted for it.
func TestThePreviewSaysWhoAnotherLIVECallUpCalledUpAlready(t *testing.T) {
	f := newFixture(t, 1)
	h := f.handler(f.c.Nodes[0])
	withDemo(t, f, h)
	files, err := examples.Plans()
	require.NoError(t, err)
	loaded := false
	for _, pf := range files {
		if pf.Name == "public-health.yaml" {
			res := do(t, h, request{method: "POST", path: "/api/v1/plans?filename=" + pf.Name, token: f.root, body: bytes.NewReader(pf.Data)})
			require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
			loaded = true
		}
	}
	require.True(t, loaded, "the demo has the public-health plan")
	rs, err := examples.Regions()
	require.NoError(t, err)
	var roster bytes.Buffer
	require.NoError(t, examples.GenerateRoster(&roster, 2000, 5, examples.Grids(rs)))
	res := do(t, h, request{method: "POST", path: "/api/v1/roster/import", token: f.root, body: bytes.NewReader(roster.Bytes())})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)

	body := func(plan, region, purpose string, dryRun bool) map[string]any {
		// The whole city is more than level IV usually calls: confirmed.
		return map[string]any{"plan_id": plan, "regions": []string{region}, "level": "IV", "purpose": purpose, "reason": "暴雨后疫情防控", "dry_run": dryRun, "confirm_scope": region}
	}
	activate := func(plan, region string) notify.Activation {
		t.Helper()
		res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(body(plan, region, "LIVE", false))})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		var a notify.Activation
		res.decode(t, &a)
		require.Equal(t, notify.StatusActive, a.Status)
		return a
	}
	preview := func(plan, region, purpose string) notify.Preview {
		t.Helper()
		res := do(t, h, request{method: "POST", path: "/api/v1/activations", token: f.root, body: jsonBody(body(plan, region, purpose, true))})
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var p notify.Preview
		res.decode(t, &p)
		return p
	}
	// people lists everyone activation id called up (and not taken off).
	people := func(id plans.ActivationID) map[plans.PersonID]bool {
		t.Helper()
		out := map[plans.PersonID]bool{}
		after := ""
		for {
			res := do(t, h, request{method: "GET", path: "/api/v1/activations/" + string(id) + "/recipients?limit=1000&after=" + url.QueryEscape(after), token: f.root})
			require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
			var l plans.List[notify.Recipient]
			res.decode(t, &l)
			for _, r := range l.Items {
				if r.State != notify.StateCancelled {
					out[r.Person] = true
				}
			}
			if l.Next == "" {
				return out
			}
			after = l.Next
		}
	}

	// Two flood call-ups over two districts; one of their people is taken
	// off the first.
	flood1, flood2 := activate("flood-control", "990104"), activate("flood-control", "990106")
	first, second := people(flood1.ID), people(flood2.ID)
	require.NotEmpty(t, first)
	require.NotEmpty(t, second)

	// What the epidemic plan over the whole city would call: its preview
	// is read after the call-up it previews is started (nothing refuses
	// it), so whom it called tells whom the preview should have counted.
	before := preview("public-health", "990100", "LIVE")
	require.Positive(t, before.Total)
	assert.Empty(t, before.Again, "the flood's call-ups do not refuse the epidemic plan")
	assert.Empty(t, before.AlreadyOpen, "no call-up of the epidemic plan is open")
	var off plans.PersonID
	health := activate("public-health", "990100")
	healthPeople := people(health.ID)
	require.Len(t, healthPeople, before.Total, "the call-up calls whom its preview counted")
	floods := map[plans.ActivationID]int{}
	inFlood := 0
	for person := range healthPeople {
		if first[person] {
			floods[flood1.ID]++
		}
		if second[person] {
			floods[flood2.ID]++
		}
		if first[person] || second[person] {
			inFlood++
		}
	}
	t.Logf("the epidemic plan over the city calls %d people, %d of them called up by the flood: %v", before.Total, inFlood, floods)
	assert.Equal(t, inFlood, before.AlreadyCalledUp)
	got := map[plans.ActivationID]int{}
	for _, c := range before.CalledUpBy {
		got[c.ID] = c.People
	}
	assert.Equal(t, floods, got)
	for p := range first {
		if healthPeople[p] {
			off = p
			break
		}
	}
	require.NotEmpty(t, off, "the flood's people are among the city's")
	res = do(t, h, request{method: "POST", path: "/api/v1/activations/" + string(flood1.ID) + "/recipients/" + string(off) + "/cancel", token: f.root,
		body: jsonBody(map[string]any{"reason": "已调往防疫"})})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	delete(first, off)

	// The same preview now, with the first call-up of the epidemic plan
	// open too.
	p := preview("public-health", "990100", "LIVE")
	require.Equal(t, before.Total, p.Total)
	want := map[plans.ActivationID]int{}
	distinct := 0
	for person := range healthPeople {
		in := false
		for _, c := range []struct {
			id  plans.ActivationID
			set map[plans.PersonID]bool
		}{{flood1.ID, first}, {flood2.ID, second}, {health.ID, healthPeople}} {
			if c.set[person] {
				want[c.id]++
				in = true
			}
		}
		if in {
			distinct++
		}
	}
	t.Logf("the epidemic plan calls %d people; %d of them are called up already: %v", p.Total, distinct, want)
	assert.Equal(t, distinct, p.AlreadyCalledUp, "each person once")
	got = map[plans.ActivationID]int{}
	var order []plans.ActivationID
	for _, c := range p.CalledUpBy {
		got[c.ID] = c.People
		order = append(order, c.ID)
	}
	assert.Equal(t, want, got, "how many each call-up called up")
	assert.Equal(t, []plans.ActivationID{flood1.ID, flood2.ID, health.ID}, order, "the earliest first")
	for _, c := range p.CalledUpBy {
		if c.ID == flood1.ID {
			assert.Equal(t, plans.PlanID("flood-control"), c.Plan)
			assert.Equal(t, flood1.PlanTitle, c.PlanTitle)
			assert.Equal(t, flood1.RegionNames, c.RegionNames)
			assert.Equal(t, plans.LevelIV, c.Level)
		}
	}
	assert.Equal(t, []plans.ActivationID{health.ID}, p.AlreadyOpen, "the same plan's call-up is open over the city")
}
