package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"muster/cluster/clustertest"
)

// The provider's throttling (429, 20429) holds the route it came on, SMS
// or voice, LIVE or drill, for its Retry-After (a second without one):
// the escalator claims none of that route's items meanwhile. An outage
// (5xx) or a refusal of one number holds nothing: each item backs off on
// its own.
func TestEscalatorHoldsOnlyAThrottledRoute(t *testing.T) {
	clock := clustertest.NewClock(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	e := NewEscalator(nil, nil, EscalatorConfig{Clock: clock,
		Live: &Route{Name: "live"}, Exercise: &Route{Name: "exercise", Exercise: true},
		LiveVoice: &VoiceRoute{Name: "live"}, ExerciseVoice: &VoiceRoute{Name: "exercise", Exercise: true}})
	held := func() (out []string) {
		for _, drill := range []bool{false, true} {
			for _, ch := range []string{ChannelSMS, ChannelVoice} {
				if e.throttledAt(drill, ch, clock.Now()) {
					out = append(out, map[bool]string{false: "live ", true: "drill "}[drill]+ch)
				}
			}
		}
		return out
	}

	e.holdIfThrottled(&e.sms[false].hold, &SendError{Temporary: true, HTTPStatus: 503, Message: "Service Unavailable"})
	e.holdIfThrottled(&e.sms[false].hold, &SendError{Temporary: true, HTTPStatus: 400, Code: 21611, Message: "queue full"})
	assert.Empty(t, held(), "an outage or one number's refusal holds no route")

	e.holdIfThrottled(&e.sms[false].hold, &SendError{Temporary: true, HTTPStatus: 429, Code: 20429, RetryAfter: 3 * time.Second})
	e.holdIfThrottled(e.voiceHold[true], &SendError{Temporary: true, HTTPStatus: 429, Code: 20429})
	assert.Equal(t, []string{"live sms", "drill voice"}, held())
	clock.Add(time.Second)
	assert.Equal(t, []string{"live sms"}, held(), "a second without a Retry-After")
	clock.Add(2 * time.Second)
	assert.Empty(t, held(), "the Retry-After is over")
}
