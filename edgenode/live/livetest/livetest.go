// Package livetest helps test the live core and its ingest adapters (as
// net/http/httptest helps HTTP handlers): a Control that grants publishes
// without a control plane and records the core's reports, and a Core run
// for the length of a test.
//
// It is for tests only and holds no policy: what to grant is the test's.
package livetest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/shared/testutil"
)

// Control grants every publish whose key is not "denied" a session under
// Dir (ids s1, s2, …; HLS in Dir/ID/hls, recording at Dir/ID.mp4 when
// Record), and records what the core reports.
type Control struct {
	Dir    string
	Record bool

	mu      sync.Mutex
	n       int
	started []live.Source
	ended   []live.End
}

// Authorize implements live.Control.
func (c *Control) Authorize(ctx context.Context, req live.PublishRequest) (live.Grant, error) {
	if req.StreamKey == "denied" {
		return live.Grant{}, errors.New("unknown stream key")
	}
	c.mu.Lock()
	c.n++
	id := fmt.Sprintf("s%d", c.n)
	c.mu.Unlock()
	g := live.Grant{SessionID: id, HLSDir: filepath.Join(c.Dir, id, "hls")}
	if c.Record {
		g.RecordPath = filepath.Join(c.Dir, id+".mp4")
	}
	return g, nil
}

// Started implements live.Control.
func (c *Control) Started(ctx context.Context, g live.Grant, src live.Source) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started = append(c.started, src)
}

// Ended implements live.Control.
func (c *Control) Ended(ctx context.Context, g live.Grant, end live.End) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = append(c.ended, end)
}

// Sources returns the sources reported so far.
func (c *Control) Sources() []live.Source {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]live.Source(nil), c.started...)
}

// Ends returns the ends reported so far.
func (c *Control) Ends() []live.End {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]live.End(nil), c.ended...)
}

// HLSDir is where session id's ladder is written.
func (c *Control) HLSDir(id string) string { return filepath.Join(c.Dir, id, "hls") }

// Start runs a core with cfg (its Logger defaults to the test log) until
// the test ends.
func Start(t testing.TB, cfg live.Config) *live.Core {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testutil.Logger(t)
	}
	core, err := live.NewCore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); core.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return core
}
