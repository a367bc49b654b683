package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
)

// approve --yes shows the request and its preview before it approves,
// where it approved a level I–II LIVE call-up without showing anything,
// naming a recipient count its user never saw (exploratory finding S6).
func TestApproveYesShowsWhatItApproves(t *testing.T) {
	var approved map[string]any
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := readAll(r)
		if strings.Contains(body, "dry_run") {
			json.NewEncoder(w).Encode(notify.Preview{Total: 16693, Activation: notify.Activation{ID: "A000031", Plan: "flood-control",
				PlanTitle: "示例市防汛应急预案", Level: "II", Purpose: notify.PurposeLive, CreatedBy: "张三", Reason: "暴雨",
				CreatedAt: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}})
			return
		}
		require.NoError(t, json.Unmarshal([]byte(body), &approved))
		json.NewEncoder(w).Encode(notify.Activation{ID: "A000031", Status: notify.StatusActive, Recipients: 16693})
	})
	_, stderr, err := runOnFake(t, api, "approve", "A000031", "--yes")
	require.NoError(t, err)
	assert.Contains(t, stderr, "activation A000031 requested by 张三 at ")
	assert.Contains(t, stderr, ": 暴雨\n")
	assert.Contains(t, stderr, "PREVIEW — nothing has been sent or switched yet")
	assert.Regexp(t, `recipients:\s+16693 people`, stderr)
	assert.NotContains(t, stderr, "Type the activation ID", "--yes asks nothing")
	assert.EqualValues(t, 16693, approved["recipients"], "the count it showed")
}
