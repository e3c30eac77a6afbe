package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/livestreams/livestreams/controlplane/cluster"
)

// metrics are the API's Prometheus series. Routes are labelled by their
// pattern, never by the raw path, so ids cannot explode the cardinality.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	handler  http.Handler
}

func newMetrics(reg prometheus.Registerer, node *cluster.Node) *metrics {
	var gather prometheus.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		reg, gather = r, r
	} else if g, ok := reg.(prometheus.Gatherer); ok {
		gather = g
	} else {
		gather = prometheus.DefaultGatherer
	}
	m := &metrics{handler: promhttp.HandlerFor(gather, promhttp.HandlerOpts{})}
	m.requests = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "livestreams_http_requests_total",
		Help: "HTTP requests served by the API, by method, route pattern and status class.",
	}, []string{"method", "route", "code"}))
	m.duration = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "livestreams_http_request_duration_seconds",
		Help:    "Time to answer an API request, by method and route pattern.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"method", "route"}))
	if node != nil {
		for _, c := range node.Collectors() {
			register(reg, c)
		}
		register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "livestreams_raft_leader",
			Help: "1 while this control-plane node is the Raft leader.",
		}, func() float64 {
			if node.IsLeader() {
				return 1
			}
			return 0
		}))
		register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "livestreams_raft_applied_index",
			Help: "Index of the last Raft entry applied on this node.",
		}, func() float64 { return float64(node.AppliedIndex()) }))
	}
	return m
}

// register adds c, or returns the collector already registered under its
// name, so two handlers can share one registry.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

func (m *metrics) observe(method, route string, status int, took time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status/100)+"xx").Inc()
	m.duration.WithLabelValues(method, route).Observe(took.Seconds())
}
