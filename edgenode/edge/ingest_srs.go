package edge

// SRS in front (--ingest srs): SRS terminates the publishers, its HTTP
// hooks reach package srsingest on the edge's HTTP server, and allowed
// streams are pulled from SRS into the live core. The built-in RTMP(S)
// listeners are off: SRS owns the port.

import (
	"context"
	"flag"
	"net"
	"net/http"

	"github.com/livestreams/livestreams/edgenode/srsingest"
	"github.com/livestreams/livestreams/shared/config"
)

// Ingest modes (Config.Ingest).
const (
	IngestBuiltin = "rtmp" // the edge's own listeners
	IngestSRS     = "srs"  // SRS in front, hooks and pulls
)

// registerSRSFlags adds the ingest mode and SRS flags to fs.
func registerSRSFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.Ingest, "ingest", IngestBuiltin, "rtmp (the edge's own RTMP/RTMPS listeners) or srs (SRS in front: its hooks authorize, the edge pulls; see docs/srs.md)")
	fs.StringVar(&cfg.SRSHookSecret, "srs-hook-secret", "", "shared secret SRS's hook URLs carry (?secret=), at least 16 characters (required with --ingest srs)")
	fs.StringVar(&cfg.SRSRTMPURL, "srs-rtmp-url", srsingest.DefaultSRSURL, "where the edge pulls streams from SRS (--ingest srs)")
}

// setupIngestMode checks the ingest mode before the listeners are bound.
func (n *Node) setupIngestMode() error {
	switch n.cfg.Ingest {
	case "", IngestBuiltin:
		n.cfg.Ingest = IngestBuiltin
		return nil
	case IngestSRS:
		if n.cfg.RTMPSAddr != "" {
			return config.Fail("rtmps-addr", "unused with --ingest srs: SRS terminates the publishers")
		}
		return nil
	default:
		return config.Fail("ingest", "must be rtmp or srs")
	}
}

// startSRS creates the hook server once the core exists.
func (n *Node) startSRS() error {
	if n.cfg.Ingest != IngestSRS {
		return nil
	}
	var err error
	n.srs, err = srsingest.New(srsingest.Config{Core: n.core, Secret: n.cfg.SRSHookSecret, SRSURL: n.cfg.SRSRTMPURL,
		App: n.cfg.RTMPApp, Logger: n.cfg.Logger})
	if err != nil {
		return err
	}
	if n.cfg.PublicRTMP == "" {
		n.cfg.PublicRTMP = n.cfg.SRSRTMPURL + "/" + n.cfg.RTMPApp
	}
	return nil
}

// mountSRS serves the hooks on the edge's HTTP server.
func (n *Node) mountSRS(mux *http.ServeMux) {
	if n.srs != nil {
		mux.Handle("/srs/hooks", n.srs)
		mux.Handle("/srs/hooks/", n.srs)
	}
}

// runSRS runs the pulls until ctx ends.
func (n *Node) runSRS(ctx context.Context) {
	if n.srs != nil {
		n.wg.Go(func() { n.srs.Run(ctx) })
	}
}

// closeListener closes ln unless a mode left it off (nil).
func closeListener(ln net.Listener) {
	if ln != nil {
		ln.Close()
	}
}
