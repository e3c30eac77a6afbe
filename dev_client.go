package main

import (
	"context"
	"fmt"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
)

// newAPI is a /v1 client of the dev control plane at base acting with
// token.
func newAPI(base, token string) (*client.Client, error) {
	return client.New(client.Config{Addrs: []string{base}, Token: token, Timeout: 30 * time.Second, UserAgent: "livestreams-dev"})
}

// waitReady polls /readyz until the control plane knows a leader and has
// applied the cluster meta.
func waitReady(ctx context.Context, api *client.Client, timeout time.Duration) error {
	return poll(ctx, timeout, "control plane not ready", func(ctx context.Context) error { return api.Ready(ctx) })
}

// waitEdge polls until the stream view shows an ingest URL: the edge has
// connected and holds a lease.
func waitEdge(ctx context.Context, api *client.Client, streamID string, timeout time.Duration) error {
	return poll(ctx, timeout, "edge did not connect", func(ctx context.Context) error {
		s, err := api.Streams().Get(ctx, streamID)
		if err == nil && s.IngestURL == "" {
			err = fmt.Errorf("stream %s has no ingest URL yet", streamID)
		}
		return err
	})
}

// poll calls cond every 100 ms until it returns nil, ctx ends or timeout
// passes; the error then says what and cond's last error.
func poll(ctx context.Context, timeout time.Duration, what string, cond func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s within %v: %w", what, timeout, err)
		case <-tick.C:
		}
	}
}
