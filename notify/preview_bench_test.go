package notify_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"muster/cluster/clustertest"
	"muster/examples"
	"muster/notify"
	"muster/plans"
)

// BenchmarkPreviewOverOpenCallUps measures the preview of a LIVE call-up of
// everyone in the city (the epidemic plan's people are the roster's, the
// everyone plan's all of them) with no LIVE call-up open, then with one
// open that has called up every one of them: what counting the people
// called up already (already_called_up) costs a large preview.
//
//	go test ./notify -run '^$' -bench PreviewOverOpenCallUps -benchtime 5x -timeout 20m
func BenchmarkPreviewOverOpenCallUps(b *testing.B) {
	const people = 200_000
	ctx, cancel := context.WithTimeout(b.Context(), 15*time.Minute)
	defer cancel()
	e := newEnvWith(b, 1, people, clustertest.Options{Setup: setup}, ctx)
	_, err := e.plans.ApplyPlan(ctx, "bench", "everyone.yaml", examples.EveryonePlan)
	require.NoError(b, err)
	req := notify.ActivationRequest{Plan: "everyone", Regions: []plans.RegionCode{city}, Level: "IV", Purpose: "LIVE", Reason: "暴雨", ConfirmScope: string(city)}
	preview := func(b *testing.B, called int) {
		for b.Loop() {
			p, err := e.svc.Preview(ctx, req)
			require.NoError(b, err)
			require.Equal(b, people, p.Total)
			require.Equal(b, called, p.AlreadyCalledUp)
		}
	}
	b.Run(fmt.Sprintf("recipients=%d/open=0", people), func(b *testing.B) { preview(b, 0) })
	a, err := e.svc.Activate(ctx, "bench", req)
	require.NoError(b, err)
	require.Equal(b, people, a.Recipients)
	b.Run(fmt.Sprintf("recipients=%d/open=1", people), func(b *testing.B) { preview(b, people) })
}
