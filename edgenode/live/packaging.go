package live

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/livestreams/livestreams/edgenode/llhls"
	"github.com/livestreams/livestreams/edgenode/transcode"
)

// packaging is a session's HLS packager and the pipes ffmpeg writes each
// rung's fragmented MP4 into.
type packaging struct {
	p       *llhls.Packager
	readers []*os.File
	writers []*os.File // ffmpeg's ends: closed here once ffmpeg has them
	done    chan struct{}
}

func newPackager(params transcode.Params, log *slog.Logger) (*packaging, error) {
	plan, err := params.Packaging()
	if err != nil {
		return nil, fmt.Errorf("plan packaging: %w", err)
	}
	rends := make([]llhls.Rendition, len(plan.Renditions))
	for i, r := range plan.Renditions {
		rends[i] = llhls.Rendition{Name: r.Name, Bandwidth: r.Bandwidth}
	}
	p, err := llhls.New(llhls.Config{Dir: params.OutDir, Tag: params.Tag, Renditions: rends,
		TargetDuration: plan.Segment, PartTarget: plan.Part, Window: plan.Window, Logger: log})
	if err != nil {
		return nil, err
	}
	pk := &packaging{p: p, done: make(chan struct{})}
	for range rends {
		r, w, err := os.Pipe()
		if err != nil {
			pk.closeReaders()
			pk.closeWriters()
			return nil, fmt.Errorf("packager pipe: %w", err)
		}
		pk.readers, pk.writers = append(pk.readers, r), append(pk.writers, w)
	}
	return pk, nil
}

// run packages until ffmpeg's pipes end; the session waits for done.
func (pk *packaging) run(ctx context.Context) {
	defer close(pk.done)
	defer pk.closeReaders()
	in := make([]io.Reader, len(pk.readers))
	for i, r := range pk.readers {
		in[i] = r
	}
	_ = pk.p.Run(ctx, in) // logged by the packager
}

func (pk *packaging) closeWriters() {
	for _, w := range pk.writers {
		w.Close()
	}
}

func (pk *packaging) closeReaders() {
	for _, r := range pk.readers {
		r.Close()
	}
}

// Changed returns, for the live session writing HLS into hlsDir, a
// function whose channel is closed at that session's next playlist write
// (for the origin's blocking reloads); nil when no session writes there.
func (c *Core) Changed(hlsDir string) func() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.sessions {
		if s.grant.HLSDir != hlsDir {
			continue
		}
		s.mu.Lock()
		pk := s.pack
		s.mu.Unlock()
		if pk != nil {
			return pk.p.Changed
		}
	}
	return nil
}
