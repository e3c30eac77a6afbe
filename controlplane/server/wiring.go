package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/livestreams/livestreams/controlplane/api"
	"github.com/livestreams/livestreams/controlplane/directupload"
	"github.com/livestreams/livestreams/controlplane/player"
	"github.com/livestreams/livestreams/dashboard"
	"github.com/livestreams/livestreams/shared/objstore"
)

// buildHandler routes one node's HTTP listener: the node-to-node endpoints,
// the public API (with health, readiness and metrics) and the dashboard.
func (s *Server) buildHandler() http.Handler {
	// One registry per node, never the global one: several nodes may run
	// in one process (tests, livestreams dev).
	s.metrics = prometheus.NewRegistry()
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.metrics.MustRegister(s.eventCollectors()...)
	apiHandler := api.New(api.Config{
		Registry:       s.metrics,
		Node:           s.node,
		Directory:      s.fleet,
		JoinTokens:     s.NewJoinToken,
		PublicURL:      s.cfg.PublicURL,
		TrustedProxies: s.cfg.TrustedProxies,
		CORSOrigins:    s.cfg.CORSOrigins,
		AllowSignup:    s.cfg.AllowSignup,
		Keyring:        s.keyring,
		Logger:         s.cfg.Logger,
		Jobs:           s.jobs,
		Store:          s.cfg.ObjectStore,
		Uploads:        s.uploadLimits(),
		OAuth:          s.oauthService(),
		Events:         s.events,
		JobTails:       s.tails,

		WebhookAllowPrivate: s.cfg.WebhookAllowPrivate,
	})
	mux := http.NewServeMux()
	mux.Handle("/internal/", s.node.InternalHandler())
	mux.Handle("/v1/", apiHandler)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		mux.Handle(p, apiHandler)
	}
	if l, ok := s.cfg.ObjectStore.(*objstore.Local); ok {
		mux.Handle("/objects/", l.Handler())
	}
	mux.Handle("/player/", player.Handler(""))
	mux.Handle("/", dashboard.Handler())
	return mux
}

// uploadLimits bound VOD uploads, for both the API that presigns the
// upload URLs and the directupload.Watcher that judges what lands.
func (s *Server) uploadLimits() directupload.Limits {
	return directupload.Limits{MaxBytes: s.cfg.MaxUploadBytes}
}
