package edge

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"github.com/livestreams/livestreams/edgenode/mediajobs"
	"github.com/livestreams/livestreams/edgenode/rtmp"
	"github.com/livestreams/livestreams/shared/config"
	"github.com/livestreams/livestreams/shared/objstore"
)

// Command runs `livestreams edge`: it parses flags (with LIVESTREAMS_*
// environment equivalents), starts the node and serves until ctx ends.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := config.NewFlagSet("edge", "Run an edge node (RTMP ingest, ffmpeg ladder and recording, HLS origin).", stderr)
	var cfg Config
	var control, lat, lon, level string
	fs.StringVar(&cfg.NodeID, "node-id", "", "unique id of this edge (required)")
	config.PathVar(fs, &cfg.DataDir, "data-dir", "", "directory for HLS output and recordings (required)")
	fs.StringVar(&control, "control", "", "comma-separated control-plane QUIC addresses, e.g. cp1:7443,cp2:7443 (required)")
	fs.StringVar(&cfg.JoinToken, "join-token", "", "single-use join token for the first start; prefer LIVESTREAMS_JOIN_TOKEN or --join-token-file (argv is visible to every local user)")
	config.PathVar(fs, &cfg.JoinTokenFile, "join-token-file", "", "file holding the single-use join token for the first start (later starts use the certificate kept in --data-dir)")
	fs.StringVar(&cfg.RTMPAddr, "rtmp-addr", ":1935", "RTMP ingest listen address")
	registerRTMPFlags(fs, &cfg)
	registerBeaconFlags(fs, &cfg)
	registerSRSFlags(fs, &cfg)
	registerSRTFlags(fs, &cfg)
	registerWHIPFlags(fs, &cfg)
	fs.StringVar(&cfg.HTTPAddr, "http-addr", ":8081", "HLS origin listen address")
	fs.StringVar(&cfg.Region, "region", "", "region label, e.g. eu-central")
	fs.StringVar(&cfg.PublicURL, "public-url", "", "base URL viewers reach the HLS origin by (default http://127.0.0.1:PORT)")
	fs.StringVar(&cfg.PublicRTMP, "public-rtmp-url", "", "RTMP base URL publishers use (default rtmp://127.0.0.1:PORT/live)")
	fs.StringVar(&lat, "lat", "", "latitude of this edge, for routing")
	fs.StringVar(&lon, "lon", "", "longitude of this edge, for routing")
	fs.StringVar(&cfg.GossipAddr, "gossip-addr", "", "join the fleet's gossip on this address, e.g. 0.0.0.0:7946 (needed for relaying and fast routing)")
	var gossipJoin string
	fs.StringVar(&gossipJoin, "gossip-join", "", "comma-separated gossip addresses of other edges or control-plane nodes")
	fs.StringVar(&cfg.GossipKey, "gossip-key", "", "the fleet's gossip encryption key (16, 24 or 32 bytes, base64 or hex); a comma-separated list during a rotation: the first encrypts, all decrypt")
	fs.DurationVar(&cfg.GossipProbeInterval, "gossip-probe-interval", 500*time.Millisecond, "how often gossip probes a peer; a dead edge is noticed after about 4 of these")
	fs.StringVar(&cfg.FFmpeg, "ffmpeg", "ffmpeg", "ffmpeg binary")
	ffprobe := fs.String("ffprobe", "ffprobe", "ffprobe binary")
	var store objstore.Flags
	store.Register(fs)
	fs.DurationVar(&cfg.UploadBackoffMax, "upload-backoff-max", 5*time.Minute, "longest wait between attempts at uploading a recording while the object store fails")
	fs.IntVar(&cfg.MaxJobs, "max-jobs", 1, "media jobs (VOD transcodes, clips) run at once; 0 takes none")
	var captionsCfg mediajobs.CaptionsConfig
	fs.StringVar(&captionsCfg.WhisperURL, "whisper-url", "", "OpenAI-compatible transcription server for captions jobs (OpenAI, whisper.cpp, faster-whisper-server, LocalAI), e.g. http://127.0.0.1:8080; empty: the built-in pocketsphinx engine (English)")
	fs.StringVar(&captionsCfg.WhisperAPIKey, "whisper-api-key", "", "bearer token for --whisper-url; prefer LIVESTREAMS_WHISPER_API_KEY (argv is visible to every local user)")
	fs.StringVar(&captionsCfg.WhisperModel, "whisper-model", "whisper-1", "model asked of --whisper-url")
	fs.IntVar(&cfg.IngestMaxConnsPerIP, "ingest-max-conns-per-ip", rtmp.DefaultMaxConnsPerIP, "connections (RTMP, SRT) or WHIP publishes one remote address may hold at once; idle RTMP handshakes are evicted first")
	fs.Float64Var(&cfg.IngestHandshakeRate, "ingest-handshake-rate", rtmp.DefaultHandshakeRate, "new RTMP connections a second one remote address may open (in bursts of --ingest-max-conns-per-ip)")
	fs.IntVar(&cfg.RequestWork.Workers, "request-workers", 0, "ffmpeg runs viewers' requests (thumbnails at a time) may start at once, niced; more wait briefly or get 503 (default: half the CPUs)")
	fs.StringVar(&level, "log-level", "info", "debug, info, warn or error")
	if err := config.Parse(fs, args, nil); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "Error:", err)
		return 2
	}
	var err error
	if cfg.Logger, err = config.NewLogger(stderr, level); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 2
	}
	cfg.Control, cfg.GossipJoin = config.SplitList(control), config.SplitList(gossipJoin)
	if cfg.Lat, err = parseCoord(lat, 90); err != nil {
		fmt.Fprintln(stderr, "Error:", config.Fail("lat", err.Error()))
		return 2
	}
	if cfg.Lon, err = parseCoord(lon, 180); err != nil {
		fmt.Fprintln(stderr, "Error:", config.Fail("lon", err.Error()))
		return 2
	}
	if cfg.MaxJobs < 0 || cfg.MaxJobs > 64 {
		fmt.Fprintln(stderr, "Error:", config.Fail("max-jobs", "must be 0 to 64"))
		return 2
	}
	base := cfg.PublicURL
	if base == "" {
		base = "http://" + reachable(cfg.HTTPAddr)
	}
	if cfg.ObjectStore, err = store.Open(ctx, base, cfg.Logger); err != nil {
		fmt.Fprintln(stderr, "Error:", config.Fail("object-store", err.Error()))
		return 2
	}
	if cfg.ObjectStore != nil {
		defer cfg.ObjectStore.Close()
		cfg.JobOutput = NewJobOutput()
		if cfg.Runner, err = mediajobs.NewRunner(mediajobs.Config{Store: cfg.ObjectStore, FFmpeg: cfg.FFmpeg, FFprobe: *ffprobe,
			WorkDir: filepath.Join(cfg.DataDir, "jobs"), Logger: cfg.JobOutput.Logger(cfg.Logger.With("component", "media")),
			Captions: captionsCfg}); err != nil {
			fmt.Fprintln(stderr, "Error:", err)
			return 1
		}
		defer cfg.Runner.(*mediajobs.Runner).Close()
	}
	n, err := New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	fmt.Fprintf(stdout, "edge %s: RTMP %s, HLS %s\n", cfg.NodeID, n.RTMPURL(), n.HTTPURL())
	if u := n.RTMPSURL(); u != "" {
		fmt.Fprintf(stdout, "edge %s: RTMPS %s\n", cfg.NodeID, u)
	}
	if u := n.SRTURL(); u != "" {
		fmt.Fprintf(stdout, "edge %s: SRT %s\n", cfg.NodeID, u)
	}
	if u := n.WHIPURL(); u != "" {
		fmt.Fprintf(stdout, "edge %s: WHIP %s\n", cfg.NodeID, u)
	}
	if err := n.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	return 0
}

func parseCoord(s string, limit float64) (float64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < -limit || v > limit {
		return 0, fmt.Errorf("must be a number between -%v and %v", limit, limit)
	}
	return v, nil
}
