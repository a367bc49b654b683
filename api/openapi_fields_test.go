package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/drills"
	"muster/notify"
	"muster/plans"
)

// The schemas of POST /cap's answers, of an activation with its
// decisions, and of a drill run and its due dates name every field the answer types have, and only those
// (TestOpenAPISchemasNameRealFields checks the second half for every
// schema): CAPImport with the Warning it extends (allOf).
func TestOpenAPISchemasNameEveryField(t *testing.T) {
	type schema struct {
		Ref        string         `json:"$ref"`
		AllOf      []schema       `json:"allOf"`
		Properties map[string]any `json:"properties"`
	}
	var doc struct {
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	var documented func(s schema) map[string]bool
	documented = func(s schema) map[string]bool {
		out := map[string]bool{}
		if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
			return documented(doc.Components.Schemas[name])
		}
		for _, a := range s.AllOf {
			for k := range documented(a) {
				out[k] = true
			}
		}
		for k := range s.Properties {
			out[k] = true
		}
		return out
	}
	for name, v := range map[string]any{
		"CAPImport": capImportReply{}, "CAPCancelAwaited": capCancelAwaited{},
		"Supersession": plans.Supersession{}, "UpstreamRef": plans.UpstreamRef{}, "Warning": plans.Warning{},
		"Activation": notify.Activation{}, "Decision": notify.Decision{}, "LineageLink": access.Link{},
		"DrillRun": drills.Run{}, "DrillDue": drills.DrillDue{},
	} {
		s, ok := doc.Components.Schemas[name]
		if !assert.True(t, ok, "schema %s", name) {
			continue
		}
		props := documented(s)
		for f := range jsonFields(reflect.TypeOf(v)) {
			assert.True(t, props[f], "%T has %q, which schema %s does not document", v, f, name)
		}
		for p := range props {
			assert.True(t, jsonFields(reflect.TypeOf(v))[p], "schema %s documents %q, which %T does not have", name, p, v)
		}
	}
}
