package edge

// RTMPS: the same rtmp.Server behind a TLS listener of its own, with a
// certificate pair that is reloaded when its files change (an ACME client
// or an operator replaces them in place; no restart, no signal).

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/livestreams/livestreams/shared/config"
)

// certCheckInterval is how often, at most, a handshake looks at the
// certificate files' modification times.
const certCheckInterval = 2 * time.Second

// registerRTMPFlags adds the RTMP application and RTMPS flags to fs.
func registerRTMPFlags(fs *flag.FlagSet, cfg *Config) {
	fs.StringVar(&cfg.RTMPApp, "rtmp-app", "live", "the one RTMP(S) application publishers may use (rtmp://HOST/APP/STREAM_KEY); others are refused")
	fs.StringVar(&cfg.RTMPSAddr, "rtmps-addr", "", "RTMPS ingest listen address, e.g. :1936 (default off; needs --tls-cert and --tls-key)")
	config.PathVar(fs, &cfg.TLSCert, "tls-cert", "", "PEM certificate chain for RTMPS; reloaded when the file changes")
	config.PathVar(fs, &cfg.TLSKey, "tls-key", "", "PEM private key for RTMPS; reloaded when the file changes")
	fs.StringVar(&cfg.PublicRTMPS, "public-rtmps-url", "", "RTMPS base URL publishers use (default rtmps://127.0.0.1:PORT/APP)")
}

// listenRTMPS binds the RTMPS listener when one is configured.
func (n *Node) listenRTMPS() error {
	cfg := n.cfg
	if cfg.RTMPSAddr == "" {
		if cfg.TLSCert != "" || cfg.TLSKey != "" {
			n.log.Warn("--tls-cert and --tls-key are unused without --rtmps-addr")
		}
		return nil
	}
	if cfg.TLSCert == "" || cfg.TLSKey == "" {
		return config.Fail("rtmps-addr", "needs --tls-cert and --tls-key")
	}
	certs, err := newCertReloader(cfg.TLSCert, cfg.TLSKey, n.log)
	if err != nil {
		return config.Fail("tls-cert", err.Error())
	}
	ln, err := net.Listen("tcp", cfg.RTMPSAddr)
	if err != nil {
		return fmt.Errorf("listen rtmps on %s: %w", cfg.RTMPSAddr, err)
	}
	// The handshake runs on the connection's first read, inside the rtmp
	// server's connection goroutine, under its handshake deadline.
	n.rtmpsLn = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate})
	if n.cfg.PublicRTMPS == "" {
		n.cfg.PublicRTMPS = "rtmps://" + loopback(ln.Addr()) + "/" + n.cfg.RTMPApp
	}
	return nil
}

// serveRTMPS serves RTMPS publishers with the RTMP server until ctx ends;
// a listener failure goes to errc.
func (n *Node) serveRTMPS(ctx context.Context, errc chan<- error) {
	if n.rtmpsLn == nil {
		return
	}
	n.wg.Go(func() {
		if err := n.rtmp.Serve(ctx, n.rtmpsLn); err != nil && ctx.Err() == nil {
			errc <- fmt.Errorf("rtmps: %w", err)
		}
	})
}

// RTMPSURL is the base URL RTMPS publishers use (rtmps://host:port/live),
// or "" when RTMPS is off.
func (n *Node) RTMPSURL() string { return n.cfg.PublicRTMPS }

// certReloader serves a certificate pair from files and reloads it when
// either file changes, checking at most once per certCheckInterval, from
// the handshake that comes next: it needs no goroutine. A replacement that
// does not load (half-written, mismatched pair) keeps the previous pair
// and is logged, and tried again at the next check.
type certReloader struct {
	certPath, keyPath string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   []byte // the files' sizes and modification times when loaded or last failed
	checked time.Time
}

func newCertReloader(certPath, keyPath string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certPath: certPath, keyPath: keyPath, log: log}
	stamp, err := r.fileStamp()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("load the certificate pair: %w", err)
	}
	r.cert, r.stamp, r.checked = &cert, stamp, time.Now()
	return r, nil
}

// fileStamp identifies the files' current versions.
func (r *certReloader) fileStamp() ([]byte, error) {
	var b bytes.Buffer
	for _, p := range []string{r.certPath, r.keyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return b.Bytes(), nil
}

// GetCertificate is the tls.Config hook.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) < certCheckInterval {
		return r.cert, nil
	}
	r.checked = time.Now()
	stamp, err := r.fileStamp()
	if err != nil {
		r.log.Error("rtmps certificate files unreadable; keeping the loaded pair", "err", err)
		return r.cert, nil
	}
	if bytes.Equal(stamp, r.stamp) {
		return r.cert, nil
	}
	r.stamp = stamp // a broken version is reported once, not every check
	cert, err := tls.LoadX509KeyPair(r.certPath, r.keyPath)
	if err != nil {
		r.log.Error("rtmps certificate changed but does not load; keeping the previous pair", "err", err)
		return r.cert, nil
	}
	r.cert = &cert
	r.log.Info("rtmps certificate reloaded", "cert", r.certPath)
	return r.cert, nil
}
