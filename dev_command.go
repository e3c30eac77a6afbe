package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/livestreams/livestreams/controlplane/oauth"
	"github.com/livestreams/livestreams/shared/config"
)

// Command runs `livestreams dev` and prints the URLs a creator needs.
func devCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := config.NewFlagSet("dev", "Run a control plane and an edge in one process, with local storage (the quick start).", stderr)
	var cfg devConfig
	config.PathVar(fs, &cfg.DataDir, "data-dir", ".data/dev", "directory for all state, HLS output and recordings")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "API and dashboard listen address")
	fs.StringVar(&cfg.RTMPAddr, "rtmp-addr", "127.0.0.1:1935", "RTMP ingest listen address")
	fs.StringVar(&cfg.RTMPSAddr, "rtmps-addr", "127.0.0.1:1936", "RTMPS ingest listen address (a self-signed certificate, made in the data dir's tls/)")
	fs.StringVar(&cfg.SRTAddr, "srt-addr", "127.0.0.1:9000", "SRT ingest listen address (UDP)")
	fs.StringVar(&cfg.EdgeAddr, "edge-http-addr", "127.0.0.1:8081", "edge HLS origin listen address")
	fs.StringVar(&cfg.QUICAddr, "quic-addr", "127.0.0.1:7443", "control plane's edge endpoint (UDP)")
	fs.StringVar(&cfg.RaftAddr, "raft-addr", "127.0.0.1:7000", "Raft listen address")
	fs.StringVar(&cfg.FFmpeg, "ffmpeg", "ffmpeg", "ffmpeg binary")
	allowSignup := fs.Bool("allow-signup", true, "let anyone sign up and create an org on this dev cluster (false: only the printed owner and users an admin creates)")
	webhookPrivate := fs.Bool("webhook-allow-private", true, "let webhook endpoints be on loopback and private addresses (a receiver on this machine)")
	level := fs.String("log-level", "warn", "debug, info, warn or error")
	var oauthFlags oauth.Flags
	oauthFlags.Register(fs)
	if err := config.Parse(fs, args, nil); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "Error:", err)
		return 2
	}
	cfg.NoSignup = !*allowSignup
	oauthCfg, oerr := oauthFlags.Config("")
	if oerr != nil {
		fmt.Fprintln(stderr, "Error:", oerr)
		return 2
	}
	cfg.OAuth = oauthCfg
	cfg.NoWebhookPrivate = !*webhookPrivate
	var err error
	if cfg.Logger, err = config.NewLogger(stderr, *level); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 2
	}
	c, err := startDevCluster(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	defer c.Close()
	key, err := c.StreamKey(ctx, c.Creds.StreamID)
	if err != nil {
		fmt.Fprintln(stderr, "Error: reading the demo stream key:", err)
		return 1
	}
	stream, err := c.API.Streams().Get(ctx, c.Creds.StreamID)
	if err != nil {
		fmt.Fprintln(stderr, "Error: reading the demo stream:", err)
		return 1
	}
	fmt.Fprintf(stdout, `
Livestreams is running (one control plane and one edge; data in %s).

  Dashboard     %s/
                sign in as %s / %s
  RTMP URL      %s
  RTMPS URL     %s  (self-signed: %s; ffmpeg takes it as is, -tls_verify 0)
  SRT URL       %s
  WHIP URL      %s  (Authorization: Bearer %s)
  Playback URL  %s

Publish a test stream:
  ffmpeg -re -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440 \
    -c:v libx264 -preset veryfast -g 60 -c:a aac -f flv %s

Use the admin CLI against this cluster:
  export LIVESTREAMS_ADDR=%s LIVESTREAMS_TOKEN=%s

Press Ctrl-C to stop.
`, cfg.DataDir, c.APIURL, c.Creds.Email, c.Creds.Password, c.RTMPURL(key), c.RTMPSURL(key), filepath.Join(cfg.DataDir, "tls", devCertFile), c.SRTURL(key), c.Edge.WHIPURL(), key, c.PlaybackURL(stream.PlaybackID),
		c.RTMPURL(key), c.APIURL, c.Token)
	if err := c.Wait(ctx); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	return 0
}
