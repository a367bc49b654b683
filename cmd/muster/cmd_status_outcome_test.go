package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"muster/notify"
)

// muster status of a request that waits no more says to whom what became
// of it was texted, and how each text went; nothing before it is listed.
func TestStatusSaysWhoWasToldWhatBecameOfARequest(t *testing.T) {
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	rejected := notify.Activation{ID: "A000022", PlanTitle: "示例市防汛应急预案", Level: "II", Purpose: notify.PurposeLive, RegionNames: "江北区",
		Status: notify.StatusRejected, ApprovalsRequired: 2, ApprovalDeadline: at.Add(30 * time.Minute),
		Decisions:         []notify.Decision{{By: "li", At: at.Add(5 * time.Minute), Reason: "信息不实，先核实"}},
		ApproversNotified: []notify.ApproverNotice{{Holder: "李四", State: notify.NoticeSent}, {Holder: "钱七", State: notify.NoticeSent}},
		DecisionNotices: []notify.ApproverNotice{{Holder: "张三", State: notify.NoticeSent},
			{Holder: "钱七", State: notify.NoticeFailed, Error: "send sms: permanent error 21211 (HTTP 400): invalid number"}}}
	out := mustRunOnFake(t, fakeAPI{"GET /api/v1/activations/A000022": notify.ActivationStatus{Activation: rejected}}, "status", "A000022")
	assert.Contains(t, out, "\noutcome texted: 张三 sent; 钱七 failed (send sms: permanent error 21211 (HTTP 400): invalid number)\n")
	assert.NotContains(t, out, "approvers texted", "whom to tell of the wait no longer matters")

	rejected.DecisionNotices = nil
	out = mustRunOnFake(t, fakeAPI{"GET /api/v1/activations/A000022": notify.ActivationStatus{Activation: rejected}}, "status", "A000022")
	assert.NotContains(t, out, "outcome texted")
}
