// Package api is the control plane's public HTTP API, /v1 as docs/api.md
// specifies it, with /healthz, /readyz and /metrics beside it. Every
// control-plane node serves it: reads come from the node's own state (or
// after a leader-confirmed read when asked), writes are typed commands
// proposed through Raft with their ids, times, hashes and secrets computed
// here first. It does not serve the node-to-node endpoints (package
// cluster does) nor the dashboard. Where a stream plays and where to
// publish come from an EdgeDirectory; it talks to edges only to relay a
// browser's WHIP exchange (whip.go).
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/livestreams/livestreams/controlplane/api/auth"
	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/directupload"
	"github.com/livestreams/livestreams/controlplane/events"
	"github.com/livestreams/livestreams/controlplane/fleet"
	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/keyring"
	"github.com/livestreams/livestreams/controlplane/oauth"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/objstore"
)

// EdgeDirectory says where a stream plays and where its encoder publishes
// (package fleet implements it).
type EdgeDirectory interface {
	// Playback routes a viewer at client to an edge serving s; an error
	// (fleet.ErrNotLive) when it is not live anywhere.
	Playback(ctx context.Context, s state.Stream, client netip.Addr) (fleet.Route, error)
	// Ingest routes a creator at client to an edge taking publishes over
	// proto (protocol.IngestRTMP, …; "" for any).
	Ingest(ctx context.Context, client netip.Addr, proto string) (fleet.Route, error)
	// VOD routes a viewer at client to an edge serving the on-demand
	// asset with playbackID (any edge serves any asset); the route's URL
	// is its master playlist, with thumbnail.jpg, storyboard.jpg and
	// storyboard.vtt beside it. routing.ErrNoEdge when no edge can.
	VOD(ctx context.Context, playbackID string, client netip.Addr) (fleet.Route, error)
	// Nodes lists the edge fleet.
	Nodes() ([]fleet.Node, error)
}

// Config configures the API of one control-plane node.
type Config struct {
	Node *cluster.Node
	// Directory may be nil: streams then show no ingest URL and never play.
	Directory EdgeDirectory
	// JoinTokens makes a single-use edge join token valid for ttl (zero:
	// the default); nil answers 503.
	JoinTokens func(ctx context.Context, description string, ttl time.Duration) (client.JoinToken, error)
	// PublicURL is the base URL playback URLs are built on
	// ("https://cp.example.com"); empty means the request's scheme and host.
	PublicURL string
	// TrustedProxies are the peers whose X-Forwarded-For, Forwarded and
	// X-Forwarded-Proto headers are believed.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the browser origins allowed to call the API ("*" for
	// any); empty sends no CORS headers.
	CORSOrigins []string
	// AllowSignup lets anyone sign up; otherwise signup needs the setup token.
	AllowSignup bool
	// Keyring seals the secrets the API proposes into the state (kept
	// signing keys, a rotated CA's key); nil stores them in plaintext.
	Keyring *keyring.Keyring
	Logger  *slog.Logger
	Now     func() time.Time
	// Registry receives the API's metrics; nil means a private registry
	// (with Go and process collectors) served at /metrics.
	Registry prometheus.Registerer
	// AuthRatePerMinute and AuthBurst bound signup and login attempts per
	// client address; zero means 10 a minute with a burst of 5.
	AuthRatePerMinute int
	AuthBurst         int
	// Jobs queues media work; nil answers 503 on the routes that create
	// assets or jobs (uploads, clips) and on job cancellation.
	Jobs *jobs.Service
	// Store holds the assets' objects; nil answers 503 for uploads, and
	// deleting an asset then deletes its record only (and logs so).
	Store objstore.Store
	// OAuth links creators' YouTube and Twitch accounts (oauth.go); nil
	// (or a provider without an app) answers 503 on its routes.
	OAuth *oauth.Service
	// Uploads bound VOD uploads (the largest size, the URL lifetime;
	// directupload's defaults for zero fields); the server gives the
	// directupload.Watcher the same value.
	Uploads directupload.Limits
	// Events fans this node's event log out to GET /v1/events; nil
	// answers 503 there (the stored log is still listed). JobTails holds
	// the output of running jobs for GET /v1/jobs/{id}/log; nil shows
	// finished jobs' logs only. EventHeartbeat is the idle stream's
	// comment interval (15 s if zero).
	Events         *events.Hub
	JobTails       *events.Tails
	EventHeartbeat time.Duration
	// WebhookAllowPrivate accepts webhook URLs on loopback, private and
	// link-local addresses (--webhook-allow-private).
	WebhookAllowPrivate bool
}

// Limits of the HTTP surface.
const (
	maxBody        = 1 << 20   // every JSON body
	maxRestoreBody = 512 << 20 // a snapshot; as much as a follower may forward to the leader
	requestTimeout = 30 * time.Second
	// limiterEntries bounds the rate limiter's memory (about 100 B each).
	limiterEntries = 100_000
	// touchEvery is how often a key's last-used time is written at most.
	touchEvery = time.Minute
	// applyTimeout bounds one Raft write, election included: a cluster
	// without a leader answers 503 well before the request deadline.
	applyTimeout = 10 * time.Second
)

// Handler serves the API. Close it to wait for the background writes it
// started (API keys' last-used times).
type Handler struct {
	cfg     Config
	log     *slog.Logger
	node    *cluster.Node
	router  chi.Router
	metrics *metrics
	limiter *limiter
	// logins counts failed logins per account and address (ratelimit.go).
	logins *loginLimits
	// catchUp bounds, per client address, the leader-confirmed reads a
	// follower makes for credentials it does not hold, so unknown keys
	// cannot make it hammer the leader.
	catchUp *limiter
	touches *toucher
	health  *http.Client
	edges   *http.Client // the WHIP proxy's (whip.go)

	// hashing bounds concurrent password hashes: each holds the argon2
	// memory (19 MiB), so a burst of logins cannot exhaust the node.
	hashing   chan struct{}
	pwParams  auth.Params
	dummyHash string

	openapi []byte // the document, encoded once

	closeOnce sync.Once
}

// New builds the API handler of one node.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AuthRatePerMinute <= 0 {
		cfg.AuthRatePerMinute = 10
	}
	if cfg.AuthBurst <= 0 {
		cfg.AuthBurst = 5
	}
	cfg.Uploads = cfg.Uploads.OrDefaults()
	h := &Handler{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "api"),
		node:     cfg.Node,
		metrics:  newMetrics(cfg.Registry, cfg.Node),
		limiter:  newLimiter(cfg.AuthRatePerMinute, cfg.AuthBurst, limiterEntries),
		catchUp:  newLimiter(60, 10, limiterEntries),
		logins:   newLoginLimits(cfg.AuthRatePerMinute, cfg.AuthBurst),
		health:   &http.Client{Timeout: time.Second},
		edges:    newEdgeClient(),
		hashing:  make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
		pwParams: auth.DefaultParams(),
	}
	h.touches = newToucher(cfg.Node, h.log, cfg.Now)
	// Unknown emails are checked against this so that they cost the same
	// time as a wrong password.
	h.dummyHash, _ = auth.HashPassword("not a password of anyone", h.pwParams)
	h.openapi, _ = json.Marshal(buildOpenAPI())
	h.router = h.routes()
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.router.ServeHTTP(w, r) }

// Close stops background work and waits for it.
func (h *Handler) Close() error {
	h.closeOnce.Do(h.touches.close)
	return nil
}

func (h *Handler) now() time.Time { return h.cfg.Now().UTC() }

// apply proposes a command through Raft (forwarded when this node
// follows) and decodes its result into out. Refusals come back as
// *state.Error; any other failure is marked as of unknown outcome.
func (h *Handler) apply(ctx context.Context, typ string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	return uncommitted(h.node.ApplyInto(ctx, typ, body, out), "apply "+typ)
}

// uncommitted marks a failed write that the state machine did not refuse
// as of unknown outcome, as apply does; for writes made through a service
// such as jobs.Service.
func uncommitted(err error, what string) error {
	var se *state.Error
	if err == nil || errors.As(err, &se) || errors.Is(err, cluster.ErrNoLeader) {
		return err
	}
	return errUncommitted{fmt.Errorf("%s: %w", what, err)}
}

// view runs fn over this node's state.
func (h *Handler) view(fn func(tx *state.Tx) error) error { return h.node.Store().View(fn) }
