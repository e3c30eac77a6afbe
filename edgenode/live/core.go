package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/livestreams/livestreams/edgenode/transcode"
)

// Defaults for zero Config fields.
const (
	// DefaultStallTimeout ends a session whose input has sent nothing for
	// this long without closing.
	DefaultStallTimeout = 8 * time.Second
	// DefaultMaxProbeBytes bounds what a session buffers before its
	// adapter has said what the source is, so a hostile publisher cannot
	// make the edge hold unbounded memory before ffmpeg starts.
	DefaultMaxProbeBytes = 16 << 20
	// DefaultAuthorizeTimeout bounds the Control's answer to a publish.
	DefaultAuthorizeTimeout = 5 * time.Second
	// DefaultStopTimeout is how long ffmpeg gets to flush its outputs
	// after its input ends before it is terminated.
	DefaultStopTimeout = 10 * time.Second
)

// Errors a publish can be refused with.
var (
	ErrAlreadyLive = errors.New("the stream key is already live on this edge")
	ErrNotRunning  = errors.New("the live core is not running (edge shutting down)")
)

// PublishRequest is what an ingest adapter knows of a publisher before any
// media arrives. StreamKey is a secret: never log it.
type PublishRequest struct {
	Protocol   string // "rtmp", "srt", "whip", …
	App        string // application name where the protocol has one ("live")
	StreamKey  string
	Query      string // protocol extras after the key, if any
	RemoteAddr string
}

// Grant is a publish the Control allowed, with the settings of its session.
type Grant struct {
	SessionID  string
	Latency    transcode.Latency
	DVRWindow  time.Duration // what the live playlists list; 0 = transcode.DefaultWindow
	HLSDir     string        // where the ladder is written (emptied first)
	RecordPath string        // "" disables recording
	Ladder     []transcode.Rung
	Logger     *slog.Logger // the session's logger; nil is the core's
}

// Control is what the core asks of the node around a publish: the control
// plane's word and the node's own bookkeeping. Its methods take the core's
// context (the node's) and must honour it.
type Control interface {
	// Authorize decides whether req may go live; an error refuses it and
	// is shown to the adapter (it must not contain the stream key).
	Authorize(ctx context.Context, req PublishRequest) (Grant, error)
	// Started is called once ffmpeg runs, with what the source is.
	Started(ctx context.Context, g Grant, src Source)
	// Ended is called exactly once for every Grant Authorize returned,
	// after the recording is finalized.
	Ended(ctx context.Context, g Grant, end End)
}

// Config configures a Core. Zero durations and sizes take the defaults.
type Config struct {
	Control          Control // required
	FFmpeg           string  // "" is ffmpeg from PATH
	Logger           *slog.Logger
	StallTimeout     time.Duration
	MaxProbeBytes    int
	AuthorizeTimeout time.Duration
	StopTimeout      time.Duration
}

// Core runs the live sessions of one edge, whatever protocol feeds them.
type Core struct {
	cfg Config
	log *slog.Logger

	running chan struct{} // closed when Run starts

	mu       sync.Mutex
	ctx      context.Context // Run's; nil before Run
	stopping bool
	keys     map[string]bool     // stream keys live or being authorized
	sessions map[string]*Session // by session id
	wg       sync.WaitGroup      // publishes from Authorize to Ended
}

// NewCore validates cfg and returns a Core; it accepts publishes once Run
// runs (a publish that comes earlier waits for it, within its context).
func NewCore(cfg Config) (*Core, error) {
	if cfg.Control == nil {
		return nil, errors.New("live: Config.Control is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.MaxProbeBytes <= 0 {
		cfg.MaxProbeBytes = DefaultMaxProbeBytes
	}
	if cfg.AuthorizeTimeout <= 0 {
		cfg.AuthorizeTimeout = DefaultAuthorizeTimeout
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	return &Core{cfg: cfg, log: cfg.Logger, running: make(chan struct{}), keys: map[string]bool{}, sessions: map[string]*Session{}}, nil
}

// Run accepts publishes until ctx ends; then it cancels every session and
// returns once all have ended (ffmpeg reaped, recordings finalized, Ended
// called). A Core runs once.
func (c *Core) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.ctx != nil {
		c.mu.Unlock()
		return errors.New("live: Core.Run called twice")
	}
	c.ctx = ctx
	c.mu.Unlock()
	close(c.running)

	<-ctx.Done()
	c.mu.Lock()
	c.stopping = true
	for _, s := range c.sessions {
		s.Cancel(ErrShuttingDown)
	}
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}

// ErrShuttingDown is the reason sessions are cancelled with when Run's
// context ends.
var ErrShuttingDown = errors.New("edge shutting down")

// Publish asks the Control whether req may go live and, if so, opens its
// session. ctx bounds the question only; the session belongs to the Core.
// The adapter then writes media to the session and closes it.
func (c *Core) Publish(ctx context.Context, req PublishRequest) (*Session, error) {
	select {
	case <-c.running:
	case <-ctx.Done():
		return nil, ErrNotRunning
	}
	c.mu.Lock()
	if c.ctx == nil || c.stopping {
		c.mu.Unlock()
		return nil, ErrNotRunning
	}
	if c.keys[req.StreamKey] {
		c.mu.Unlock()
		return nil, ErrAlreadyLive
	}
	c.keys[req.StreamKey] = true
	c.wg.Add(1)
	base := c.ctx
	c.mu.Unlock()
	release := func() {
		c.mu.Lock()
		delete(c.keys, req.StreamKey)
		c.mu.Unlock()
	}

	actx, cancel := context.WithTimeout(ctx, c.cfg.AuthorizeTimeout)
	stop := context.AfterFunc(base, cancel)
	g, err := c.cfg.Control.Authorize(actx, req)
	stop()
	cancel()
	if err != nil {
		release()
		c.wg.Done()
		return nil, err
	}
	s, err := newSession(c, base, g, req)
	if err != nil {
		release()
		c.cfg.Control.Ended(base, g, End{Reason: "edge_error", Err: err})
		c.wg.Done()
		return nil, fmt.Errorf("open session: %w", err)
	}
	c.mu.Lock()
	c.sessions[g.SessionID] = s
	if c.stopping {
		// Run is already cancelling; this one was authorized meanwhile.
		s.Cancel(ErrShuttingDown)
	}
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		s.run(func() {
			release()
			c.mu.Lock()
			delete(c.sessions, g.SessionID)
			c.mu.Unlock()
		})
	}()
	s.log.Info("publish started", "protocol", req.Protocol, "remote_addr", req.RemoteAddr)
	return s, nil
}

// Cancel ends a session from the edge's side (stream disabled, ended by
// the control plane); it reports whether the session was running here.
func (c *Core) Cancel(sessionID string, reason error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[sessionID]
	if s != nil {
		s.Cancel(reason)
	}
	return s != nil
}

// Transcode is one session's running ffmpeg, as metrics show it.
type Transcode struct {
	SessionID string
	Progress  transcode.Progress // the latest report; zero before the first
}

// Transcodes lists the sessions whose ffmpeg runs, with their progress.
func (c *Core) Transcodes() []Transcode {
	c.mu.Lock()
	sessions := make([]*Session, 0, len(c.sessions))
	for _, s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()
	var out []Transcode
	for _, s := range sessions {
		if s.PID() > 0 {
			out = append(out, Transcode{SessionID: s.ID(), Progress: s.Progress()})
		}
	}
	return out
}

// PIDs returns the process ids of the sessions' running transcoders.
func (c *Core) PIDs() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for _, s := range c.sessions {
		if pid := s.PID(); pid > 0 {
			out = append(out, pid)
		}
	}
	return out
}
