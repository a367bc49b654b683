package notify_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"muster/notify"
	"muster/notify/twiliosim"
)

const benchBody = "【演练】市防汛指挥部启动Ⅳ级应急响应，请于30分钟内到岗。确认请回复1，无法到岗回复2并说明原因。"

// hostRewriter points a bare twilio-go client at the simulator (protocol notes §2).
type hostRewriter struct {
	base *url.URL
	next http.RoundTripper
}

func (h hostRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = h.base.Scheme, h.base.Host, h.base.Host
	return h.next.RoundTrip(r)
}

// runWorkers calls send n times from workers goroutines and returns the time taken.
func runWorkers(b *testing.B, n, workers int, send func(i int) error) time.Duration {
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := send(i); err != nil && failed.Add(1) == 1 {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// BenchmarkSendThroughput measures SMS/s through Twilio.SendSMS and through a
// bare twilio-go CreateMessage loop, both with the same number of workers
// against the same simulator over loopback HTTP (no rate limit, default
// status delays, no status callbacks). Each b.N is sent by each path, in two
// alternating halves.
func BenchmarkSendThroughput(b *testing.B) {
	for _, workers := range []int{64} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			sim, simURL := startTwilioSim(b, twiliosim.Config{SentDelay: 200 * time.Millisecond, DeliveredDelay: 500 * time.Millisecond})
			ours := newTwilio(b, notify.TwilioConfig{APIURL: simURL, From: []string{"+15005550001", "+15005550002"}})

			base, _ := url.Parse(simURL)
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 256
			bc := &client.Client{
				Credentials: client.NewCredentials(simSID, simToken),
				HTTPClient:  &http.Client{Timeout: 10 * time.Second, Transport: hostRewriter{base: base, next: tr}},
			}
			bc.SetAccountSid(simSID)
			bare := twilio.NewRestClientWithParams(twilio.ClientParams{Client: bc})
			b.Cleanup(tr.CloseIdleConnections)

			to := func(i int) string { return fmt.Sprintf("+86139%08d", i) }
			sendOurs := func(i int) error {
				_, err := ours.SendSMS(b.Context(), notify.SMS{AttemptID: "A", To: to(i), Body: benchBody})
				return err
			}
			sendBare := func(i int) error {
				p := &api.CreateMessageParams{}
				p.SetTo(to(i)).SetFrom("+15005550001").SetBody(benchBody)
				_, err := bare.Api.CreateMessage(p)
				return err
			}
			// Warm both connection pools.
			runWorkers(b, workers*4, workers, sendOurs)
			runWorkers(b, workers*4, workers, sendBare)

			b.ResetTimer()
			half := max(1, b.N/2)
			var tOurs, tBare time.Duration
			for range 2 {
				tOurs += runWorkers(b, half, workers, sendOurs)
				tBare += runWorkers(b, half, workers, sendBare)
			}
			b.StopTimer()
			n := float64(2 * half)
			b.ReportMetric(n/tOurs.Seconds(), "muster-sms/s")
			b.ReportMetric(n/tBare.Seconds(), "twilio-go-sms/s")
			b.ReportMetric(tBare.Seconds()/tOurs.Seconds(), "ratio")
			b.ReportMetric(0, "ns/op")
			if st := sim.Stats(); st.Throttled+st.Faults+int64(len(st.Rejected)) != 0 {
				b.Fatalf("simulator refused sends: %+v", st)
			}
		})
	}
}
