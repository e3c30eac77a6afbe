package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// client is a minimal /v1 API client for dev setup and tests.
type client struct {
	base  string
	token string
	http  http.Client
}

// do sends a JSON request and decodes a JSON answer into out.
func (c *client) do(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(raw)))
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func (c *client) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/readyz", nil)
		resp, err := c.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("control plane not ready after %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitEdge polls until the stream view shows an ingest URL: the edge has
// connected and holds a lease.
func (c *client) waitEdge(ctx context.Context, streamID string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var s map[string]any
		if _, err := c.do(ctx, http.MethodGet, "/v1/streams/"+streamID, nil, &s); err == nil && s["ingest_url"] != nil && s["ingest_url"] != "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("edge did not connect within %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *client) streamKey(ctx context.Context, id string) (string, error) {
	var out map[string]any
	if _, err := c.do(ctx, http.MethodGet, "/v1/streams/"+id+"/key", nil, &out); err != nil {
		return "", err
	}
	k, _ := out["stream_key"].(string)
	if k == "" {
		return "", fmt.Errorf("no stream_key in %v", out)
	}
	return k, nil
}
