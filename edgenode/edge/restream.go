package edge

// Restream relays. They are jobs like the media jobs, with their own
// loop: a relay lasts as long as its live session and must not take a
// media job's slot (nor wait behind one), and the loop asks for work
// every second whatever the load, since a relay queued at the start of
// a session should start within moments.

import (
	"context"
	"errors"
	"time"

	"github.com/livestreams/livestreams/edgenode/mediajobs"
	"github.com/livestreams/livestreams/edgenode/restream"
	"github.com/livestreams/livestreams/protocol"
)

const (
	// maxRestreams bounds the relays one edge runs at once (each is an
	// ffmpeg that only remuxes, and one outgoing stream).
	maxRestreams     = 32
	restreamPollEach = time.Second
)

// newRestreamLoop builds the loop that leases and runs this edge's
// restream jobs.
func newRestreamLoop(n *Node) (*jobLoop, error) {
	r, err := restream.NewRunner(restream.Config{Source: n.core, Control: restreamControl{n}, FFmpeg: n.cfg.FFmpeg,
		Logger: n.log.With("component", "restream")})
	if err != nil {
		return nil, err
	}
	l := newJobLoop(n, r, maxRestreams)
	l.fixedPoll = restreamPollEach
	return l, nil
}

// restreamControl is the node as a relay's Control.
type restreamControl struct{ n *Node }

func (c restreamControl) Credentials(ctx context.Context, jobID string) (protocol.RestreamCredentials, error) {
	var out protocol.RestreamCredentials
	err := c.n.client.Call(ctx, protocol.TypeRestreamCredentials, protocol.RestreamCredentialsRequest{JobID: jobID}, &out)
	return out, err
}

func (c restreamControl) Status(ctx context.Context, s protocol.RestreamStatus) error {
	return c.n.client.Call(ctx, protocol.TypeRestreamStatus, s, nil)
}

// permanentJobError reports whether a job's error is one retrying cannot
// fix (a media job's, or any error that says so).
func permanentJobError(err error) bool {
	var p interface{ Permanent() bool }
	return mediajobs.IsPermanent(err) || errors.As(err, &p) && p.Permanent()
}
