package webhooks

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/livestreams/livestreams/controlplane/state"
)

// metrics are the dispatcher's Prometheus series (the leader's move;
// followers' stay still).
type metrics struct {
	attempts *prometheus.CounterVec
	ended    *prometheus.CounterVec
	latency  prometheus.Histogram
	sending  prometheus.Gauge
}

func newMetrics() metrics {
	return metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "livestreams_webhook_attempts_total",
			Help: "Webhook delivery attempts recorded by this node, by result: ok (2xx) or error.",
		}, []string{"result"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "livestreams_webhook_deliveries_ended_total",
			Help: "Webhook deliveries that ended on this node, by status: succeeded or failed (retries exhausted, endpoint disabled or deleted).",
		}, []string{"status"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "livestreams_webhook_attempt_duration_seconds",
			Help:    "Time a receiver took to answer a delivery attempt (or to fail it).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		sending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "livestreams_webhook_attempts_in_flight",
			Help: "Webhook delivery attempts being sent now.",
		}),
	}
}

// Collectors returns the dispatcher's Prometheus collectors, for the
// registry that serves the node's metrics.
func (d *Dispatcher) Collectors() []prometheus.Collector {
	return []prometheus.Collector{d.metrics.attempts, d.metrics.ended, d.metrics.latency, d.metrics.sending}
}

func (m metrics) recorded(a state.WebhookAttempt, final bool) {
	result := "error"
	if a.OK {
		result = "ok"
	}
	m.attempts.WithLabelValues(result).Inc()
	m.latency.Observe(float64(a.LatencyMS) / 1000)
	switch {
	case a.OK:
		m.ended.WithLabelValues(state.DeliverySucceeded).Inc()
	case final:
		m.ended.WithLabelValues(state.DeliveryFailed).Inc()
	}
}
