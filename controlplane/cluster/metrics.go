package cluster

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// applyMetrics time the writes this node makes through Raft.
type applyMetrics struct {
	duration *prometheus.HistogramVec
}

func newApplyMetrics() applyMetrics {
	return applyMetrics{duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "livestreams_raft_apply_duration_seconds",
		Help: "Time from a write's submission on this node (forwarded to the leader if need be) to its application " +
			"by the state machine, by outcome: committed (applied, even if the state machine refused it) or failed.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"outcome"})}
}

func (m applyMetrics) observe(start time.Time, committed bool) {
	outcome := "failed"
	if committed {
		outcome = "committed"
	}
	m.duration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
}

// Collectors returns the node's Prometheus collectors (Raft apply
// latency), for the registry that serves this node's metrics.
func (n *Node) Collectors() []prometheus.Collector {
	return []prometheus.Collector{n.metrics.duration}
}
