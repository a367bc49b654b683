package api

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The OpenAPI document's StreamNode, the data of an event stream's node
// event, names exactly the fields the stream sends, and the stream's
// schema names the event.
func TestOpenAPIDescribesTheNodeEvent(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema struct {
						EventData map[string]struct {
							Ref string `json:"$ref"`
						} `json:"x-event-data"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
				Required   []string       `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	events := doc.Paths["/api/v1/activations/{id}/events"]["get"].Responses["200"].Content["text/event-stream"].Schema.EventData
	assert.Equal(t, "#/components/schemas/StreamNode", events["node"].Ref)

	s, ok := doc.Components.Schemas["StreamNode"]
	require.True(t, ok, "schema StreamNode")
	fields := jsonFields(reflect.TypeOf(streamNode{}))
	assert.ElementsMatch(t, slices.Collect(maps.Keys(fields)), slices.Collect(maps.Keys(s.Properties)))
	for _, name := range s.Required {
		assert.True(t, fields[name], "required %q", name)
	}
}
