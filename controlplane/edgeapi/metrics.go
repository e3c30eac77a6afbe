package edgeapi

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/livestreams/livestreams/protocol"
)

// metrics are the edge endpoint's Prometheus series.
type metrics struct {
	authorizations *prometheus.CounterVec
	authDuration   prometheus.Histogram
}

func newMetrics() metrics {
	return metrics{
		authorizations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "livestreams_publish_authorizations_total",
			Help: "Publishes edges asked to authorize, by result: allowed, refused (a bad or disabled key, already live) or error.",
		}, []string{"result"}),
		authDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "livestreams_publish_authorization_duration_seconds",
			Help:    "Time to answer an edge's publish authorization (the session it opens is a Raft write).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
	}
}

// Collectors returns the service's Prometheus collectors, for the registry
// that serves the node's metrics.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.metrics.authorizations, s.metrics.authDuration}
}

// authorizeMeasured is authorizePublish, counted and timed.
func (s *Service) authorizeMeasured(ctx context.Context, peer protocol.Peer, r protocol.AuthorizePublishRequest) (any, error) {
	start := time.Now()
	out, err := s.authorizePublish(ctx, peer, r)
	s.metrics.authDuration.Observe(time.Since(start).Seconds())
	result := "allowed"
	if pe := (*protocol.Error)(nil); errors.As(err, &pe) {
		result = "refused"
	} else if err != nil {
		result = "error"
	}
	s.metrics.authorizations.WithLabelValues(result).Inc()
	return out, err
}
