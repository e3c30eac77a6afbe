// Package edge assembles an edge node: it connects to the control plane
// over QUIC, runs the live core (package live) with the ingest adapters in
// front of it (RTMP through package rtmpingest), answers the core's
// questions about each publish with the control plane, serves the HLS it
// produces, queues recordings for upload, runs media jobs, and reports
// sessions and load. Losing an edge loses no committed data: the control
// plane closes its sessions when its lease lapses, and recordings wait in
// the durable upload queue.
//
// It deliberately holds no protocol or session logic of its own: RTMP is
// packages rtmp and rtmpingest, the session's policy (one publisher per
// key, stall timeout, ladder, recording) is package live. What the edge
// owns is wiring and ownership: every loop and session runs under Run's
// context, and Run returns only after all of them have ended.
package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestreams/livestreams/edgenode/hls"
	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/edgenode/recordingupload"
	"github.com/livestreams/livestreams/edgenode/rtmp"
	"github.com/livestreams/livestreams/edgenode/rtmpingest"
	"github.com/livestreams/livestreams/edgenode/srsingest"
	"github.com/livestreams/livestreams/edgenode/srt"
	"github.com/livestreams/livestreams/edgenode/whip"
	"github.com/livestreams/livestreams/edgenode/workpool"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/gossip"
	"github.com/livestreams/livestreams/shared/objstore"
)

// Config configures an edge node.
type Config struct {
	NodeID  string
	DataDir string
	Control []string // control-plane QUIC addresses
	// JoinToken (or the file JoinTokenFile names) is the single-use token
	// an edge joins with the first time; later starts use the certificate
	// it got, kept in DataDir (identity.go).
	JoinToken     string
	JoinTokenFile string
	RTMPAddr      string // e.g. ":1935"
	HTTPAddr      string // HLS origin, e.g. ":8081"
	Region        string
	Lat, Lon      float64
	// PublicURL is the base URL viewers reach this edge's HTTP server by;
	// PublicRTMP the rtmp://host:port/live base publishers use. Both default
	// to the bound addresses on 127.0.0.1.
	PublicURL  string
	PublicRTMP string
	FFmpeg     string
	Logger     *slog.Logger
	// RTMPApp is the one RTMP application publishers may use ("live").
	RTMPApp string
	// RTMPSAddr, when set, serves RTMPS there with the PEM pair at
	// TLSCert and TLSKey (reloaded when the files change); PublicRTMPS is
	// its rtmps://host:port/live base (ingest_rtmps.go).
	RTMPSAddr, TLSCert, TLSKey, PublicRTMPS string
	// Ingest is IngestBuiltin ("rtmp", the default) or IngestSRS: SRS in
	// front, its hooks (secret SRSHookSecret) authorize and the edge pulls
	// from SRSRTMPURL; the RTMP(S) listeners are off (ingest_srs.go).
	Ingest, SRSHookSecret, SRSRTMPURL string
	// PublicSRT (srt://host:port) and PublicWHIP (the WHIP endpoint's
	// base, https://host/whip) are what the control plane tells creators
	// for SRT and WHIP; empty means the edge does not offer them. The
	// listeners that serve them set them.
	PublicSRT, PublicWHIP string
	// SRTAddr, when set, takes SRT publishers on that UDP address with
	// SRTLatency (ingest_srt.go). WHIP is served on the HTTP listener at
	// /whip unless NoWHIP, its sessions on WebRTCUDPAddr (one UDP port for
	// all; "" gives each an ephemeral one), advertising WebRTCPublicIP for
	// 1:1 NAT, on loopback only with WebRTCLoopback (dev, tests)
	// (ingest_whip.go).
	SRTAddr                       string
	SRTLatency                    time.Duration
	NoWHIP, WebRTCLoopback        bool
	WebRTCUDPAddr, WebRTCPublicIP string
	// Version is reported to the control plane.
	Version string
	// GossipAddr, when set, joins the fleet's gossip on this address,
	// through GossipJoin seeds, encrypted with GossipKey.
	GossipAddr          string
	GossipJoin          []string
	GossipKey           string
	GossipProbeInterval time.Duration // tests; zero is memberlist's default

	// ObjectStore, when set, receives the recordings (through the durable
	// upload queue) and serves on-demand assets; nil keeps recordings on
	// disk and serves live streams only.
	ObjectStore objstore.Store
	// Runner runs media jobs (package mediajobs); with an object store and
	// MaxJobs > 0 the edge leases vod, recording-vod and clip jobs.
	Runner  JobRunner
	MaxJobs int
	// JobOutput collects the runner's ffmpeg output per job (when the
	// runner logs through JobOutput.Logger), shown while a job runs and
	// sent when an attempt ends; nil sends none.
	JobOutput *JobOutput
	// IngestMaxConnsPerIP and IngestHandshakeRate bound what one remote
	// address takes of the ingest listeners: connections (RTMP, SRT) or
	// publishes (WHIP) at once, and new RTMP connections a second; zero
	// takes the packages' defaults (16, 10).
	IngestMaxConnsPerIP int
	IngestHandshakeRate float64
	// RequestWork bounds the ffmpeg runs viewers' requests start
	// (thumbnails at a time): workers, queue, wait (package workpool).
	RequestWork workpool.Config
	// UploadBackoffMax caps the wait between attempts at a failed upload;
	// zero is the queue's default (5 minutes).
	UploadBackoffMax time.Duration
	// Beacons configures viewer analytics (beacons.go).
	Beacons BeaconConfig
}

// Node is a running edge.
type Node struct {
	cfg    Config
	log    *slog.Logger
	rtmpLn net.Listener
	httpLn net.Listener
	rtmp   *rtmp.Server
	core   *live.Core
	origin *hls.Origin
	client *protocol.Client
	id     *identity  // set by Run (identity.go)
	keys   pushedKeys // signing-key changes pushed by the control plane

	rtmpsLn net.Listener // nil without RTMPS (ingest_rtmps.go)
	srt     *srt.Server  // nil without SRT (ingest_srt.go)
	whip    *whip.Server // nil with WHIP off (ingest_whip.go)

	srs *srsingest.Server // nil unless --ingest srs (ingest_srs.go)

	// draining is the operator's order, learnt from heartbeats: no new
	// publishes here (the control plane refuses them too).
	draining atomic.Bool
	viewers  atomic.Int64 // requests being served by the HLS origin
	egress   atomic.Int64 // bytes sent to viewers, ever
	gossip   *gossip.Node
	relay    *relaying              // nil without gossip
	uploads  *recordingupload.Queue // nil without an object store
	jobs     *jobLoop               // nil without a runner
	restream *jobLoop               // restream relays (restream.go)
	vod      *vodServing            // nil without an object store
	beacons  *beaconing             // viewer analytics, set by routes (beacons.go)
	metrics  *metrics               // served at /metrics (metrics.go)

	mu       sync.Mutex
	sessions map[string]protocol.StreamInfo // authorized sessions by id
	// ending are sessions that ended here but whose end the control plane
	// has not acknowledged yet: heartbeats still list them, so it never
	// mistakes one for a session lost to a restart (edge_restarted).
	ending map[string]bool
	byPID  map[string]*playback // by playback id, outliving sessions
	// egressAt/egressPrev are the previous egress sample.
	egressAt   time.Time
	egressPrev int64
	// cpuAt/cpuPrev are the previous CPU sample.
	cpuAt   time.Time
	cpuPrev time.Duration
	wg      sync.WaitGroup
}

// New validates cfg and binds the listeners.
func New(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.NodeID == "" {
		return nil, errors.New("--node-id (LIVESTREAMS_NODE_ID): required")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("--data-dir (LIVESTREAMS_DATA_DIR): required")
	}
	if len(cfg.Control) == 0 {
		return nil, errors.New("--control (LIVESTREAMS_CONTROL): at least one control-plane QUIC address is required")
	}
	if err := checkIdentity(cfg); err != nil {
		return nil, err
	}
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if cfg.RTMPApp == "" {
		cfg.RTMPApp = "live"
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("component", "edge", "node_id", cfg.NodeID),
		sessions: map[string]protocol.StreamInfo{}, ending: map[string]bool{}, byPID: map[string]*playback{}}
	var err error
	if err := n.setupIngestMode(); err != nil {
		return nil, err
	}
	if n.cfg.Ingest == IngestBuiltin {
		if n.rtmpLn, err = net.Listen("tcp", cfg.RTMPAddr); err != nil {
			return nil, fmt.Errorf("listen rtmp on %s: %w", cfg.RTMPAddr, err)
		}
	}
	if n.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		closeListener(n.rtmpLn)
		return nil, fmt.Errorf("listen http on %s: %w", cfg.HTTPAddr, err)
	}
	if n.cfg.PublicURL == "" {
		n.cfg.PublicURL = "http://" + loopback(n.httpLn.Addr())
	}
	if n.cfg.PublicRTMP == "" && n.rtmpLn != nil {
		n.cfg.PublicRTMP = "rtmp://" + loopback(n.rtmpLn.Addr()) + "/" + cfg.RTMPApp
	}
	if err := n.listenRTMPS(); err != nil {
		n.close()
		return nil, err
	}
	if err := n.newSRT(); err != nil {
		n.close()
		return nil, err
	}
	if n.core, err = live.NewCore(live.Config{Control: liveControl{n}, FFmpeg: cfg.FFmpeg, Logger: n.log}); err != nil {
		n.close()
		return nil, err
	}
	n.rtmp, err = rtmp.NewServer(rtmp.Config{Logger: cfg.Logger, App: cfg.RTMPApp, OnPublish: rtmpingest.Adapter{Core: n.core}.OnPublish,
		MaxConnsPerIP: cfg.IngestMaxConnsPerIP, HandshakeRate: cfg.IngestHandshakeRate})
	if err != nil {
		n.close()
		return nil, err
	}
	if err := n.startSRS(); err != nil {
		n.close()
		return nil, err
	}
	if err := n.startGossip(); err != nil {
		n.close()
		return nil, fmt.Errorf("--gossip-addr: %w", err)
	}
	if err := n.openUploads(); err != nil {
		n.close()
		return nil, err
	}
	if cfg.ObjectStore != nil {
		n.vod = newVODServing(n)
		if cfg.Runner != nil && cfg.MaxJobs > 0 {
			n.jobs = newJobLoop(n, cfg.Runner, cfg.MaxJobs)
		}
	}
	if n.restream, err = newRestreamLoop(n); err != nil {
		n.close()
		return nil, err
	}
	oc := hls.Config{Resolver: resolver{n}, Logger: cfg.Logger}
	if n.relay != nil {
		oc.TrustRequest = n.relay.trusted
	}
	n.origin = hls.NewOrigin(oc)
	n.metrics = newMetrics(n)
	if err := n.newWHIP(); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// loopback is a bound address as this machine reaches it.
func loopback(a net.Addr) string { return reachable(a.String()) }

// reachable turns a listen address into one to reach it by on this
// machine (":8081" and "0.0.0.0:8081" are 127.0.0.1:8081).
func reachable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func (n *Node) close() {
	closeListener(n.rtmpLn)
	if n.rtmpsLn != nil {
		n.rtmpsLn.Close()
	}
	n.httpLn.Close()
	if n.uploads != nil {
		n.uploads.Close()
	}
}

// RTMPURL is the base URL publishers use (rtmp://host:port/live).
func (n *Node) RTMPURL() string { return n.cfg.PublicRTMP }

// HTTPURL is the base URL of the HLS origin.
func (n *Node) HTTPURL() string { return n.cfg.PublicURL }

func (n *Node) hlsDir(playbackID string) string {
	return filepath.Join(n.cfg.DataDir, "hls", playbackID)
}

// ShutdownGrace bounds how long Run takes to return once its context ends:
// every session's ffmpeg flushes (live.DefaultStopTimeout, then SIGTERM and
// a kill), its recording is finalized and queued, media jobs stop (their
// leases lapse and they run elsewhere), uploads in flight stop (they stay
// queued for the next start), and the HTTP server closes.
const ShutdownGrace = 25 * time.Second

// Run connects to the control plane and serves until ctx ends; then it ends
// every session cleanly (ffmpeg finishes, recordings are finalized and
// queued) and returns within ShutdownGrace, once every goroutine it started
// has ended.
func (n *Node) Run(ctx context.Context) error {
	defer n.close()
	tlsConf, err := n.controlTLS(ctx)
	if err != nil {
		return err
	}
	client, err := protocol.Dial(ctx, protocol.ClientConfig{
		Addrs:     n.cfg.Control,
		TLS:       tlsConf,
		OnConnect: n.onConnect,
		Logger:    n.cfg.Logger,
		Hello: protocol.Hello{NodeID: n.cfg.NodeID, Region: n.cfg.Region, Version: n.cfg.Version,
			RTMPURL: n.cfg.PublicRTMP, RTMPSURL: n.RTMPSURL(), SRTURL: n.cfg.PublicSRT, WHIPURL: n.cfg.PublicWHIP,
			HLSURL: n.cfg.PublicURL, Lat: n.cfg.Lat, Lon: n.cfg.Lon},
	})
	if err != nil {
		return fmt.Errorf("connect to control plane: %w", err)
	}
	n.client = client
	defer client.Close()

	// Recordings a killed run left are queued before anything new is
	// recorded.
	n.recoverRecordings()
	// Uploads outlive ctx by the time the sessions take to queue their
	// recordings; they stop right after.
	uctx, ucancel := context.WithCancel(context.WithoutCancel(ctx))
	defer ucancel()
	if n.uploads != nil {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := n.uploads.Run(uctx); err != nil && uctx.Err() == nil {
				n.log.Error("upload queue stopped", "err", err)
			}
		}()
	}

	srv := &http.Server{Handler: n.routes(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	n.wg.Add(3)
	go func() {
		defer n.wg.Done()
		if err := srv.Serve(n.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	coreDone := make(chan struct{})
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer close(coreDone)
		n.core.Run(rctx)
	}()
	go func() {
		defer n.wg.Done()
		if n.rtmpLn == nil {
			return // --ingest srs: SRS takes the publishers
		}
		if err := n.rtmp.Serve(rctx, n.rtmpLn); err != nil && rctx.Err() == nil {
			errc <- fmt.Errorf("rtmp: %w", err)
		}
	}()
	go func() { defer n.wg.Done(); n.heartbeatLoop(rctx) }()
	n.runBeacons(rctx)
	n.runIdentity(rctx)
	n.serveRTMPS(rctx, errc)
	n.runSRS(rctx)
	n.serveSRT(rctx, errc)
	n.serveWHIP(rctx)
	if n.gossip != nil {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.advertiseLoop(rctx.Done()) }()
	}
	if n.jobs != nil {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.jobs.run(rctx) }()
	}
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.restream.run(rctx) }()
	n.log.Info("edge ready", "rtmp", n.cfg.PublicRTMP, "http", n.cfg.PublicURL)

	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	rcancel()
	if n.gossip != nil {
		// Leave first, so routers stop sending viewers and creators here
		// while the running sessions finish.
		n.gossip.Leave(2 * time.Second)
	}
	// The core ends every session: ffmpeg flushes, the recordings are
	// finalized and queued. Uploads in flight stop after that and resume
	// on the next start.
	<-coreDone
	ucancel()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	srv.Shutdown(sctx)
	cancel()
	n.wg.Wait()
	if n.vod != nil {
		n.vod.cache.Close()
	}
	if n.relay != nil {
		n.relay.cache.Close()
	}
	return err
}

func (n *Node) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/hls/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !rewriteThumbnail(w, r) {
			return
		}
		n.viewers.Add(1)
		defer n.viewers.Add(-1)
		w = n.beacons.watch(w, r)
		defer n.beacons.done(w)
		defer n.metrics.served(r, w)
		w = countingWriter{w, &n.egress}
		n.origin.ServeHTTP(w, r)
	}))
	if l, ok := n.cfg.ObjectStore.(*objstore.Local); ok {
		mux.Handle("/objects/", l.Handler()) // the presigned URLs of a file: store
	}
	n.mountWHIP(mux)
	n.mountSRS(mux)
	n.beacons = newBeaconing(n)
	mux.Handle("/beacon", n.beacons.handler)
	mux.Handle("/metrics", n.metrics.handler)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}

// countingWriter counts the bytes sent to viewers, for the egress rate the
// edge advertises.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	k, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(k))
	return k, err
}

// ReadFrom keeps the server's sendfile path for segments.
func (c countingWriter) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok {
		k, err := rf.ReadFrom(r)
		c.n.Add(k)
		return k, err
	}
	return io.Copy(struct{ io.Writer }{c}, r)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// onDrainChange is called when the drain order changes; gossip, once the
// edge takes part in it, advertises the state to the fleet.
func (n *Node) onDrainChange(draining bool) { n.advertise() }

// Draining reports whether the edge is under a drain order.
func (n *Node) Draining() bool { return n.draining.Load() }

// Sessions returns the ids of the running sessions.
func (n *Node) Sessions() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.sessions))
	for id := range n.sessions {
		out = append(out, id)
	}
	return out
}

func redact(key string) string {
	if len(key) <= 7 {
		return "…"
	}
	return key[:7] + "…"
}

func trimKey(k string) string { return strings.TrimSpace(k) }

// ActiveSessions returns how many publishes are running.
func (n *Node) ActiveSessions() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.sessions)
}

// TranscoderPIDs returns the process ids of the running ffmpeg
// transcoders, the live sessions' and the media jobs'.
func (n *Node) TranscoderPIDs() []int {
	out := n.core.PIDs()
	if r, ok := n.cfg.Runner.(interface{ PIDs() []int }); ok {
		out = append(out, r.PIDs()...)
	}
	if r, ok := n.restream.runner.(interface{ PIDs() []int }); ok {
		out = append(out, r.PIDs()...)
	}
	return out
}
