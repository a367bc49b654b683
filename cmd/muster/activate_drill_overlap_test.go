package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"muster/notify"
	"muster/plans"
)

// An EXERCISE or TEST activation whose preview says it overlaps another
// drill call-up (演练重叠), or drills a region in recovery, stops the
// command as a LIVE repeat does: nobody is asked to confirm, nothing more
// is posted, and with --yes the refusal is the one line said (the error's),
// naming the flag that overrides it. --repeat and --during-recovery reach
// the API.
func TestActivateStopsAtADrillOverlapOrARecovery(t *testing.T) {
	overlap := "演练重叠 (drills overlap): EXERCISE activation A000006 (flood-control, level IV, over 990104: 演练（通讯演练 D000006，手动启动）, started by trainer) is still drilling the same people; " +
		"a second drill over them at once calls each of them again, and a reply answers one call-up only, so neither drill measures its own; " +
		"stand it down first, or ask again with repeat to drill them twice at once"
	recovery := "no EXERCISE call-up during a recovery: 东湖区 (990104) is in recovery (恢复) after A000002: the region is recovering from a live emergency until a commander ends its recovery " +
		"(muster end-recovery), and its people may still be at work on it; a drill's runs wait until then; to drill its people during the recovery all the same, " +
		"ask again with --during-recovery (API: \"during_recovery\": true)"
	for _, tc := range []struct {
		name    string
		preview notify.Preview
		line    string // the refusal, as said with --yes
		advice  string // the error without --yes
	}{
		{"overlap", notify.Preview{Activation: notify.Activation{Plan: "flood-control", Level: "IV", Purpose: "EXERCISE"}, Total: 218,
			AlreadyOpen: []plans.ActivationID{"A000006"}, DrillOverlap: overlap},
			"REFUSED AS A DRILL OVERLAP — " + repeatFlag(overlap), "add --repeat if drilling them twice at once is meant"},
		{"recovery", notify.Preview{Activation: notify.Activation{Plan: "flood-control", Level: "IV", Purpose: "EXERCISE"}, Total: 218, Recovery: recovery},
			"IN RECOVERY — refused: " + recovery, "add --during-recovery if a drill during the recovery is meant"},
	} {
		for _, yes := range []bool{false, true} {
			api := &asked{fakeAPI: fakeAPI{"POST /api/v1/activations": tc.preview}}
			args := []string{"activate", "flood-control", "--region", "990104", "--level", "IV", "--purpose", "exercise", "--reason", "x"}
			if yes {
				args = append(args, "--yes")
			}
			_, stderr, err := runOnFake(t, api, args...)
			require.Error(t, err, "%s yes=%v", tc.name, yes)
			assert.Equal(t, 1, exitCode(err))
			assert.NotContains(t, stderr, "Type the region codes", "%s yes=%v: nobody is asked to confirm", tc.name, yes)
			assert.NotContains(t, stderr+err.Error(), "with repeat")
			if yes {
				assert.Empty(t, stderr, "%s: the error line says it all", tc.name)
				assert.Equal(t, "nothing was activated: "+tc.line, err.Error())
			} else {
				assert.Contains(t, stderr, tc.line)
				assert.NotContains(t, stderr, "ALREADY ACTIVE", "the overlap's refusal names the call-up")
				assert.Equal(t, "nothing was activated: ", err.Error()[:len("nothing was activated: ")])
				assert.Contains(t, err.Error(), tc.advice)
			}
			require.Len(t, api.bodies, 1, "%s yes=%v: the preview only", tc.name, yes)
			assert.Equal(t, true, api.bodies[0]["dry_run"])
		}
	}

	api := &asked{fakeAPI: fakeAPI{"POST /api/v1/activations": notify.Preview{Activation: notify.Activation{Plan: "flood-control", Level: "IV", Purpose: "EXERCISE"}, Total: 218}}}
	_, _, _ = runOnFake(t, api, "activate", "flood-control", "--region", "990104", "--level", "IV", "--purpose", "exercise", "--reason", "x", "--yes", "--repeat", "--during-recovery")
	require.NotEmpty(t, api.bodies)
	assert.Equal(t, true, api.bodies[0]["repeat"])
	assert.Equal(t, true, api.bodies[0]["during_recovery"])
}
