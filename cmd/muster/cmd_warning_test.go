package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"

	"muster/plans"
)

// An upstream drill's warning is marked as one, and the activations it
// suggests are drills; a LIVE warning's are live.
func TestDrillWarningsAreMarkedAndSuggestDrills(t *testing.T) {
	wa := plans.Warning{ID: "W000003", Level: plans.WarningOrange, Purpose: plans.WarningExercise, Headline: "暴雨橙色预警",
		Regions: []plans.RegionCode{"990104"}, SuggestedLevel: "II",
		Suggestions: []plans.Suggestion{{Plan: "flood-control", Title: "防汛应急预案", Level: "II", LevelName: "重大"}}}
	assert.Equal(t, plans.ExerciseMark+"EXERCISE", drillMark(wa))
	var out bytes.Buffer
	printSuggestions(&out, wa)
	assert.Contains(t, out.String(), "--purpose exercise")
	assert.NotContains(t, out.String(), "--purpose live")

	wa.Purpose = plans.WarningLive
	assert.Empty(t, drillMark(wa))
	out.Reset()
	printSuggestions(&out, wa)
	assert.Contains(t, out.String(), "--purpose live")
	wa.Purpose = "" // stored before purposes were recorded: LIVE
	assert.Empty(t, drillMark(wa))
}
