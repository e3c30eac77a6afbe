package srsingest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/livestreams/livestreams/edgenode/rtmp"
	"github.com/livestreams/livestreams/edgenode/rtmpingest"
)

// Defaults for zero Config fields.
const (
	DefaultSRSURL = "rtmp://127.0.0.1:1935"
	DefaultApp    = "live"
	// DefaultPullStart bounds how long the pull keeps trying to get the
	// first media from SRS after on_publish allowed it (SRS accepts the
	// publisher only once the hook has answered).
	DefaultPullStart = 10 * time.Second
	// SecretHeader carries the hook secret when the URL's query does not
	// (a proxy in front, tests); SRS itself can only put it in the URL.
	SecretHeader = "X-Livestreams-Hook-Secret"
)

// Config configures a Server.
type Config struct {
	Core rtmpingest.Publisher // the live core; required
	// Secret guards every hook (?secret= in the hook URL, or
	// SecretHeader); required.
	Secret string
	// SRSURL is where the edge plays SRS's streams from (rtmp://host:port,
	// normally on loopback); "" is DefaultSRSURL.
	SRSURL string
	// App is the one application publishes are accepted on; "" is "live".
	App         string
	Logger      *slog.Logger
	PullStart   time.Duration // 0 is DefaultPullStart
	ReadTimeout time.Duration // 0 is rtmp.DefaultReadTimeout: a silent pull ends the session
}

// Server answers SRS's HTTP hooks and runs the pulls of allowed publishes.
// It is an http.Handler for the paths /srs/hooks/on_publish,
// /srs/hooks/on_unpublish and /srs/hooks/on_hls (and /srs/hooks for all
// three, by the body's action), and runs its pulls while Run runs.
type Server struct {
	cfg    Config
	log    *slog.Logger
	secret [32]byte

	running chan struct{} // closed when Run starts

	mu       sync.Mutex
	ctx      context.Context // Run's; nil before Run
	stopping bool            // Run's context ended: no new pulls
	pulls    map[string]*pull
	wg       sync.WaitGroup
}

// pull is one allowed publish being played from SRS.
type pull struct {
	clientID string
	cancel   context.CancelCauseFunc
}

// errUnpublished is the cause a pull is cancelled with on on_unpublish.
var errUnpublished = errors.New("unpublished")

// New validates cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Core == nil {
		return nil, errors.New("srsingest: Config.Core is required")
	}
	if len(cfg.Secret) < 16 {
		return nil, errors.New("--srs-hook-secret: required, at least 16 characters")
	}
	if cfg.SRSURL == "" {
		cfg.SRSURL = DefaultSRSURL
	}
	if u, err := url.Parse(cfg.SRSURL); err != nil || u.Scheme != "rtmp" || u.Host == "" || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("--srs-rtmp-url: %q is not rtmp://host[:port]", cfg.SRSURL)
	}
	cfg.SRSURL = strings.TrimRight(cfg.SRSURL, "/")
	if cfg.App == "" {
		cfg.App = DefaultApp
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PullStart <= 0 {
		cfg.PullStart = DefaultPullStart
	}
	return &Server{cfg: cfg, log: cfg.Logger.With("component", "srs"), secret: sha256.Sum256([]byte(cfg.Secret)),
		pulls: map[string]*pull{}, running: make(chan struct{})}, nil
}

// Run serves pulls until ctx ends (hooks that come before it wait for
// it a moment); then it ends them all and returns once
// every one has closed its session. A Server runs once.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ctx != nil {
		s.mu.Unlock()
		return errors.New("srsingest: Run called twice")
	}
	s.ctx = ctx
	s.mu.Unlock()
	close(s.running)
	<-ctx.Done()
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// answer is SRS's contract: HTTP 200 and code 0 allow, anything else
// refuses.
type answer struct {
	Code int    `json:"code"`
	Msg  string `json:"msg,omitempty"`
}

func reply(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	a := answer{Msg: msg}
	if status != http.StatusOK {
		a.Code = 1
	}
	json.NewEncoder(w).Encode(a)
}

// ServeHTTP answers one hook.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "hooks are POSTed")
		return
	}
	if !s.authorized(r) {
		reply(w, http.StatusForbidden, "wrong or missing hook secret")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxHookBody))
	if err != nil {
		reply(w, http.StatusBadRequest, fmt.Sprintf("hook body unreadable or over %d bytes", MaxHookBody))
		return
	}
	h, err := parseHook(body)
	if err != nil {
		reply(w, http.StatusBadRequest, err.Error())
		return
	}
	switch name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/srs/hooks"), "/"); {
	case name != "" && name != h.Action:
		reply(w, http.StatusBadRequest, "the body's action does not match the hook's path")
	case h.Action == actionPublish:
		s.onPublish(w, r, h)
	case h.Action == actionUnpublish:
		s.onUnpublish(h)
		reply(w, http.StatusOK, "")
	case h.Action == actionHLS:
		reply(w, http.StatusOK, "") // the edge makes its own HLS; SRS's is not used
	default:
		reply(w, http.StatusBadRequest, "unsupported hook action")
	}
}

// authorized compares the request's secret with ours in constant time
// (over digests, so the length does not leak either).
func (s *Server) authorized(r *http.Request) bool {
	got := r.URL.Query().Get("secret")
	if got == "" {
		got = r.Header.Get(SecretHeader)
	}
	sum := sha256.Sum256([]byte(got))
	return got != "" && subtle.ConstantTimeCompare(sum[:], s.secret[:]) == 1
}

func (s *Server) onPublish(w http.ResponseWriter, r *http.Request, h Hook) {
	key, query := streamKey(h)
	log := s.log.With("stream_key", rtmp.Redact(key), "client_id", string(h.ClientID), "remote_addr", h.IP)
	refuse := func(msg string) {
		log.Info("srs publish refused", "reason", msg)
		reply(w, http.StatusForbidden, msg)
	}
	switch {
	case h.App != s.cfg.App:
		refuse("unknown application: publish to /" + s.cfg.App + "/STREAM_KEY")
		return
	case key == "":
		refuse("no stream key")
		return
	case strings.ContainsAny(h.Stream, "/?#"):
		refuse("stream name with a path or query in it")
		return
	}
	// A hook that comes as the edge starts waits for Run (as SRS waits
	// for the answer), within SRS's own patience.
	select {
	case <-s.running:
	case <-r.Context().Done():
	case <-time.After(2 * time.Second):
	}
	path := streamPath(h)
	s.mu.Lock()
	base := s.ctx
	_, dup := s.pulls[path]
	if base != nil && base.Err() == nil && !dup {
		s.pulls[path] = nil // reserved while the core decides
	}
	s.mu.Unlock()
	switch {
	case base == nil || base.Err() != nil:
		log.Warn("srs publish refused: edge not running")
		reply(w, http.StatusServiceUnavailable, "edge not running")
		return
	case dup:
		refuse("stream already live")
		return
	}
	release := func() {
		s.mu.Lock()
		delete(s.pulls, path)
		s.mu.Unlock()
	}
	sink, err := rtmpingest.Adapter{Core: s.cfg.Core, Protocol: "srs"}.OnPublish(r.Context(),
		rtmp.PublishRequest{App: h.App, StreamKey: key, Query: query, RemoteAddr: h.IP})
	if err != nil {
		release()
		refuse(err.Error())
		return
	}
	ctx, cancel := context.WithCancelCause(base)
	p := &pull{clientID: string(h.ClientID), cancel: cancel}
	s.mu.Lock()
	if s.stopping {
		delete(s.pulls, path)
		s.mu.Unlock()
		cancel(nil)
		sink.Close(rtmp.ErrServerClosed)
		reply(w, http.StatusServiceUnavailable, "edge shutting down")
		return
	}
	s.pulls[path] = p
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			if s.pulls[path] == p {
				delete(s.pulls, path)
			}
			s.mu.Unlock()
			cancel(nil)
		}()
		s.pull(ctx, log, h, sink)
	}()
	log.Info("srs publish allowed")
	reply(w, http.StatusOK, "")
}

// onUnpublish ends the pull of the stream SRS says stopped, unless it
// belongs to a later publisher of the same stream.
func (s *Server) onUnpublish(h Hook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pulls[streamPath(h)]
	if p == nil || h.ClientID != "" && p.clientID != "" && string(h.ClientID) != p.clientID {
		return
	}
	p.cancel(errUnpublished)
}

// pull plays the stream from SRS into the session until SRS ends it,
// on_unpublish comes, or the edge stops. SRS admits the publisher only
// once the hook answered, so the first attempts may find nothing; they
// are retried for PullStart.
func (s *Server) pull(ctx context.Context, log *slog.Logger, h Hook, sink rtmp.Sink) {
	u := s.cfg.SRSURL + "/" + url.PathEscape(h.App) + "/" + url.PathEscape(h.Stream)
	if h.Vhost != "" && h.Vhost != "__defaultVhost__" {
		u += "?vhost=" + url.QueryEscape(h.Vhost)
	}
	media := 0
	deliver := func(m rtmp.Message) error {
		media++
		return sink.WriteMessage(m)
	}
	deadline := time.Now().Add(s.cfg.PullStart)
	backoff := 100 * time.Millisecond
	var err error
	for {
		err = rtmp.Play(ctx, rtmp.PlayConfig{URL: u, ReadTimeout: s.cfg.ReadTimeout}, deliver)
		if media > 0 || ctx.Err() != nil || time.Now().After(deadline) {
			break
		}
		log.Debug("srs pull not started yet", "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(2*backoff, time.Second)
	}
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errUnpublished):
		err = nil
	case ctx.Err() != nil:
		err = rtmp.ErrServerClosed
	case err == nil && media == 0:
		err = errors.New("srs sent no media")
	}
	if err != nil {
		log.Info("srs pull ended", "err", err, "messages", media)
	} else {
		log.Info("srs pull ended", "messages", media)
	}
	sink.Close(err)
}
