package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/access"
	"muster/notify"
)

// reject and approve name the person who held the deciding token when
// another than its name, as muster status does ("张三 (李四)"), and approve
// names the requester's holder too: a token named as a revoked one was does
// not read as that one's holder deciding.
func TestRejectAndApproveNameTheHolder(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	request := notify.Activation{ID: "A000031", Plan: "flood-control", PlanTitle: "示例市防汛应急预案", Level: "II", Purpose: notify.PurposeLive,
		CreatedBy: "值班", CreatedAt: at, Reason: "暴雨", RequesterLineage: access.Lineage{{ID: "T1", Name: "值班", Holder: "赵六"}}}
	rejected := request
	rejected.Status = notify.StatusRejected
	rejected.Decisions = []notify.Decision{{By: "张三", Holder: "李四", At: at.Add(time.Minute), Reason: "信息不实"}}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := readAll(r)
		switch {
		case strings.HasSuffix(r.URL.Path, "/reject"):
			json.NewEncoder(w).Encode(rejected)
		case strings.Contains(body, "dry_run"):
			json.NewEncoder(w).Encode(notify.Preview{Total: 120, Activation: request})
		default:
			approved := request
			approved.Status, approved.Recipients = notify.StatusActive, 120
			approved.Decisions = []notify.Decision{{By: "张三", Holder: "李四", Approve: true, At: at.Add(time.Minute), Recipients: 120}}
			json.NewEncoder(w).Encode(approved)
		}
	})
	out, _, err := runOnFake(t, api, "reject", "A000031", "--reason", "信息不实")
	require.NoError(t, err)
	assert.Equal(t, "activation A000031 rejected by 张三 (李四): 信息不实; nothing was sent\n", out)

	out, stderr, err := runOnFake(t, api, "approve", "A000031", "--yes")
	require.NoError(t, err)
	assert.Contains(t, stderr, "activation A000031 requested by 值班 (赵六) at ")
	assert.Contains(t, out, "activation A000031 approved by 张三 (李四)\n")

	// A token held by the person it is named for reads as before.
	request.RequesterLineage = access.Lineage{{ID: "T1", Name: "值班", Holder: "值班"}}
	rejected.Decisions[0].Holder = ""
	out, _, err = runOnFake(t, api, "reject", "A000031", "--reason", "信息不实")
	require.NoError(t, err)
	assert.Equal(t, "activation A000031 rejected by 张三: 信息不实; nothing was sent\n", out)
	_, stderr, err = runOnFake(t, api, "approve", "A000031", "--yes")
	require.NoError(t, err)
	assert.Contains(t, stderr, "activation A000031 requested by 值班 at ")
}
