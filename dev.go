// The dev cluster (`livestreams dev`) runs a whole Livestreams deployment in one process: a
// one-node control plane and one edge on loopback, with local storage and no
// GeoIP database. It is `livestreams dev` (the quick start) and the harness
// of the end-to-end tests. It sets itself up through the public /v1 API, as
// a creator would, and remembers the demo credentials in its data dir so a
// restart prints the same URLs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/oauth"
	"github.com/livestreams/livestreams/controlplane/server"
	"github.com/livestreams/livestreams/edgenode/edge"
	"github.com/livestreams/livestreams/edgenode/mediajobs"
	"github.com/livestreams/livestreams/edgenode/srt"
	"github.com/livestreams/livestreams/shared/objstore"
)

// devConfig configures a dev cluster.
type devConfig struct {
	DataDir   string
	HTTPAddr  string // control plane API/dashboard, default 127.0.0.1:8080
	RTMPAddr  string // default 127.0.0.1:1935
	SRTAddr   string // SRT ingest (UDP); default a free port on 127.0.0.1
	RTMPSAddr string // RTMPS ingest, a self-signed pair in DataDir/tls (dev_tls.go); default a free port on 127.0.0.1
	EdgeAddr  string // edge HLS origin, default 127.0.0.1:8081
	QUICAddr  string // control plane's edge endpoint, default 127.0.0.1:7443
	RaftAddr  string // default 127.0.0.1:7000
	FFmpeg    string
	Logger    *slog.Logger
	// ObjectStore is an object-store spec (see objstore.Open); empty is a
	// local directory, DataDir/objects, shared by the control plane and
	// the edge. S3AccessKey and S3SecretKey go with an s3: spec.
	ObjectStore              string
	S3AccessKey, S3SecretKey string
	// MaxJobs is how many media jobs the edge runs at once (default 1).
	MaxJobs int
	// Captions chooses the edge's speech-to-text engine (default: the
	// built-in pocketsphinx, when installed).
	Captions mediajobs.CaptionsConfig
	// JobLeaseTTL and UploadBackoffMax shorten the job lease and the
	// upload retry wait (tests); zero keeps the defaults.
	JobLeaseTTL      time.Duration
	UploadBackoffMax time.Duration
	// EdgeLeaseTTL shortens the edge's lease, and so its heartbeat
	// interval (a quarter of it); zero keeps the default (tests).
	EdgeLeaseTTL time.Duration
	// NoSignup refuses open signup (`--allow-signup=false`); dev allows it
	// by default so the dashboard's "sign up" works out of the box.
	NoSignup bool
	// OAuth is the account linking of `livestreams dev` (the --oauth-*
	// flags); the redirect goes to the dev API's own URL.
	OAuth oauth.Config
	// NoWebhookPrivate refuses webhook endpoints on loopback and private
	// addresses (`--webhook-allow-private=false`); dev allows them by
	// default, since a developer's local receiver is their main use.
	NoWebhookPrivate bool
}

// devCluster is a running dev deployment.
type devCluster struct {
	Control *server.Server
	Edge    *edge.Node
	// APIURL is the control plane's base URL; Token an owner API key with
	// cluster-admin rights; API a client acting with it.
	APIURL string
	Token  string
	API    *client.Client
	Creds  devCredentials
	// Store is the object store both sides use.
	Store objstore.Store
	// runner runs the edge's media jobs; closed once the edge has stopped.
	runner interface{ Close() error }

	dataDir string
	cancel  context.CancelFunc
	errc    chan error
	done    chan struct{}
}

// devCredentials are the demo objects dev mode creates once and reuses.
type devCredentials struct {
	Email     string `json:"email"`
	Password  string `json:"password"`
	OrgID     string `json:"org_id"`
	APIKey    string `json:"api_key"`
	StreamID  string `json:"stream_id"`
	JoinToken string `json:"join_token"`
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Start brings the deployment up and returns once the edge is connected and
// the demo stream exists. Stop it with Close.
func startDevCluster(ctx context.Context, cfg devConfig) (*devCluster, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.DataDir == "" {
		return nil, errors.New("--data-dir (LIVESTREAMS_DATA_DIR): required")
	}
	cfg.HTTPAddr = orDefault(cfg.HTTPAddr, "127.0.0.1:8080")
	cfg.RTMPAddr = orDefault(cfg.RTMPAddr, "127.0.0.1:1935")
	cfg.SRTAddr = orDefault(cfg.SRTAddr, "127.0.0.1:0")
	if !srt.Available {
		// A CGO_ENABLED=0 build has no libsrt: dev runs without SRT
		// rather than not at all.
		cfg.Logger.Warn("this binary was built without cgo, so without SRT ingest; build with CGO_ENABLED=1 and libsrt-openssl-dev for it")
		cfg.SRTAddr = ""
	}
	cfg.RTMPSAddr = orDefault(cfg.RTMPSAddr, "127.0.0.1:0")
	cfg.EdgeAddr = orDefault(cfg.EdgeAddr, "127.0.0.1:8081")
	cfg.QUICAddr = orDefault(cfg.QUICAddr, "127.0.0.1:7443")
	cfg.RaftAddr = orDefault(cfg.RaftAddr, "127.0.0.1:7000")
	controlDir := filepath.Join(cfg.DataDir, "control")
	key, err := server.LoadOrCreateClusterKey(controlDir, io.Discard)
	if err != nil {
		return nil, err
	}
	spec := orDefault(cfg.ObjectStore, objstore.LocalSpec(filepath.Join(cfg.DataDir, "objects")))
	// One process: the control plane and the edge share the store, and a
	// local directory's presigned URLs go through the control plane.
	flags := objstore.Flags{Spec: spec, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey}
	store, err := flags.Open(ctx, "http://"+cfg.HTTPAddr, cfg.Logger.With("side", "objects"))
	if err != nil {
		return nil, fmt.Errorf("object store: %w", err)
	}
	srv, err := server.New(server.Config{NodeID: "dev", DataDir: controlDir, HTTPAddr: cfg.HTTPAddr,
		RaftAddr: cfg.RaftAddr, QUICAddr: cfg.QUICAddr, Bootstrap: true, ClusterKey: key,
		AllowSignup: !cfg.NoSignup, Logger: cfg.Logger.With("side", "control"), CORSOrigins: []string{"*"}, OAuth: cfg.OAuth,
		ObjectStore: store, JobLeaseTTL: cfg.JobLeaseTTL, EdgeLeaseTTL: cfg.EdgeLeaseTTL,
		WebhookAllowPrivate: !cfg.NoWebhookPrivate})
	if err != nil {
		store.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	c := &devCluster{Control: srv, APIURL: srv.URL(), Store: store, dataDir: cfg.DataDir, cancel: cancel, errc: make(chan error, 2), done: make(chan struct{})}
	go func() { c.errc <- srv.Run(runCtx) }()

	anon, err := newAPI(c.APIURL, "")
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := waitReady(ctx, anon, 30*time.Second); err != nil {
		c.Close()
		return nil, err
	}
	credPath := filepath.Join(cfg.DataDir, "dev-credentials.json")
	if c.Creds, err = setup(ctx, anon, srv, credPath); err != nil {
		c.Close()
		return nil, fmt.Errorf("dev setup: %w", err)
	}
	c.Token = c.Creds.APIKey
	c.API = anon.As(c.Token, "")

	output := edge.NewJobOutput()
	runner, err := newRunner(cfg, store, output)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.runner = runner
	tlsCert, tlsKey, err := devTLSPair(filepath.Join(cfg.DataDir, "tls"), time.Now())
	if err != nil {
		c.Close()
		return nil, err
	}
	c.Edge, err = edge.New(edge.Config{NodeID: "dev-edge", DataDir: filepath.Join(cfg.DataDir, "edge"),
		Control: []string{srv.QUICAddr()}, JoinToken: c.Creds.JoinToken, RTMPAddr: cfg.RTMPAddr, HTTPAddr: cfg.EdgeAddr,
		SRTAddr: cfg.SRTAddr, WebRTCLoopback: true, RTMPSAddr: cfg.RTMPSAddr, TLSCert: tlsCert, TLSKey: tlsKey,
		Region: "local", FFmpeg: cfg.FFmpeg, Logger: cfg.Logger.With("side", "edge"),
		ObjectStore: store, Runner: runner, MaxJobs: max(cfg.MaxJobs, 1), UploadBackoffMax: cfg.UploadBackoffMax, JobOutput: output})
	if err != nil {
		c.Close()
		return nil, err
	}
	go func() { c.errc <- c.Edge.Run(runCtx) }()
	if err := waitEdge(ctx, c.API, c.Creds.StreamID, 30*time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Wait blocks until ctx ends or a component fails.
func (c *devCluster) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-c.errc:
		return err
	}
}

// Close stops the edge (ending sessions cleanly) and the control plane.
func (c *devCluster) Close() {
	c.cancel()
	defer c.Store.Close()
	if c.runner != nil {
		defer c.runner.Close()
	}
	deadline := time.After(30 * time.Second)
	for i := 0; i < 2; i++ {
		select {
		case <-c.errc:
		case <-deadline:
			return
		}
		if c.Edge == nil {
			return
		}
	}
}

// RTMPURL is the full publish URL of the demo stream.
func (c *devCluster) RTMPURL(streamKey string) string { return c.Edge.RTMPURL() + "/" + streamKey }

// RTMPSURL is the full RTMPS publish URL of the demo stream.
func (c *devCluster) RTMPSURL(streamKey string) string { return c.Edge.RTMPSURL() + "/" + streamKey }

// SRTURL is the full SRT publish URL of the demo stream (the key in the
// streamid, in the access-control syntax encoders send).
func (c *devCluster) SRTURL(streamKey string) string {
	if c.Edge.SRTURL() == "" {
		return "(off: this binary has no SRT)"
	}
	return c.Edge.SRTURL() + "?streamid=#!::r=live/" + streamKey + ",m=publish"
}

// StreamKey fetches the demo stream's key through the API.
func (c *devCluster) StreamKey(ctx context.Context, streamID string) (string, error) {
	return c.API.Streams().Key(ctx, streamID)
}

// PlaybackURL is the control plane's playback URL of a playback id.
func (c *devCluster) PlaybackURL(playbackID string) string {
	return c.API.PlayURL(playbackID, client.PlayPlaylist, "")
}

func loadCreds(path string) (devCredentials, bool) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return devCredentials{}, false
	}
	var c devCredentials
	return c, json.Unmarshal(raw, &c) == nil && c.APIKey != ""
}

func saveCreds(path string, c devCredentials) error {
	raw, _ := json.MarshalIndent(c, "", "  ")
	return os.WriteFile(path, raw, 0o600)
}
