package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"muster/plans"
)

func TestEscalationStepsRepeatMustAck(t *testing.T) {
	d := func(m int) plans.Duration { return plans.Duration(time.Duration(m) * time.Minute) }
	chain := []plans.EscalationStep{{After: d(5), Do: plans.EscalateVoice}, {After: d(10), Do: plans.EscalateSuperior}, {After: d(15), Do: plans.EscalateBackup}}
	lvl := &plans.Level{AckDeadline: d(15), Escalation: chain}
	plain := []RoleSlot{{Index: 0}}
	assert.Equal(t, chain, EscalationSteps(lvl, plain), "no must_ack: the plan's chain as it is")

	mustAck := []RoleSlot{{Index: 0}, {Index: 1, MustAck: true}}
	assert.Equal(t, append(chain[:3:3],
		plans.EscalationStep{After: d(25), Do: plans.EscalateSuperior},
		plans.EscalationStep{After: d(40), Do: plans.EscalateSuperior}),
		EscalationSteps(lvl, mustAck), "two more reports, every ack deadline after the chain's superior step")

	lvl.Escalation = chain[:1]
	assert.Equal(t, append(chain[:1:1],
		plans.EscalationStep{After: d(15), Do: plans.EscalateSuperior},
		plans.EscalationStep{After: d(30), Do: plans.EscalateSuperior},
		plans.EscalationStep{After: d(45), Do: plans.EscalateSuperior}),
		EscalationSteps(lvl, mustAck), "no superior step: three reports from the first ack deadline")
}
