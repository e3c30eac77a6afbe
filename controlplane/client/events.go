package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Event is one step of an org's pipeline (publish.authorized,
// session.ended, job.progress…). ID is empty for ephemeral events (job
// progress), which are not stored and not replayed.
type Event struct {
	ID        string          `json:"id,omitempty"`
	OrgID     string          `json:"org_id"`
	Type      string          `json:"type"`
	StreamID  string          `json:"stream_id,omitempty"`
	AssetID   string          `json:"asset_id,omitempty"`
	JobID     string          `json:"job_id,omitempty"`
	SessionID string          `json:"session_id,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	At        time.Time       `json:"at"`
}

// EventFilter selects events; empty fields match everything.
type EventFilter struct {
	StreamID string
	AssetID  string
	JobID    string
	// Types are event types ("session.started"); empty: all.
	Types []string
}

func (f EventFilter) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"stream_id": f.StreamID, "asset_id": f.AssetID, "job_id": f.JobID,
		"type": strings.Join(f.Types, ",")} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// EventsToken is a short-lived query token that reads one org's event
// stream and nothing else (GET /v1/events?token=), for EventSource,
// which cannot send an Authorization header.
type EventsToken struct {
	Token     string    `json:"token"`
	OrgID     string    `json:"org_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// JobLog is the tail of a job's ffmpeg output (stderr), kept after it ends.
type JobLog struct {
	JobID string   `json:"job_id"`
	Lines []string `json:"lines"`
	// Truncated says older lines were dropped to keep the bound.
	Truncated bool `json:"truncated,omitempty"`
	// Running is set while the job runs: Lines are what the control-plane
	// node answering has seen so far.
	Running bool       `json:"running,omitempty"`
	At      *time.Time `json:"at,omitempty"`
}

// Events is the org's event log and stream.
type Events struct{ c *Client }

// Events returns the events resource.
func (c *Client) Events() Events { return Events{c} }

// List returns up to limit stored events after the id after ("" from the
// oldest kept), oldest first; NextCursor is the after of the next page
// ("" when the log has no more now).
func (e Events) List(ctx context.Context, f EventFilter, after string, limit int) (Page[Event], error) {
	q := f.query()
	q.Set("format", "json")
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out Page[Event]
	return out, e.c.get(ctx, "/v1/events", q, &out)
}

// Token mints a query token for the org the client acts in.
func (e Events) Token(ctx context.Context) (EventsToken, error) {
	var out EventsToken
	return out, e.c.post(ctx, "/v1/events/token", nil, &out)
}

// JobLog returns a job's log.
func (c *Client) JobLog(ctx context.Context, id string) (JobLog, error) {
	var out JobLog
	return out, c.get(ctx, pathf("/v1/jobs/%s/log", id), nil, &out)
}

// ErrStreamEnded is what Stream returns when the server ended the stream
// with a reason (a client too slow); Follow reconnects after it.
var ErrStreamEnded = errors.New("event stream ended by the server")

// Stream reads the event stream once: events after after ("" for new
// ones only) are passed to fn until ctx ends, fn fails, or the connection
// ends. It returns the id of the last durable event it passed, to resume
// from. Use Follow to reconnect.
func (e Events) Stream(ctx context.Context, f EventFilter, after string, fn func(Event) error) (string, error) {
	q := f.query()
	resp, err := e.c.do(ctx, request{method: http.MethodGet, path: "/v1/events", query: q, noTimeout: true,
		headers: map[string]string{"Last-Event-ID": after, "Accept": "text/event-stream"}})
	if err != nil {
		return after, err
	}
	defer resp.Body.Close()
	last := after
	err = ReadSSE(resp.Body, func(m SSEMessage) error {
		if m.Event == "error" {
			return fmt.Errorf("%w: %s", ErrStreamEnded, m.Data)
		}
		var ev Event
		if err := json.Unmarshal([]byte(m.Data), &ev); err != nil {
			return fmt.Errorf("decode event %q: %w", m.ID, err)
		}
		if err := fn(ev); err != nil {
			return err
		}
		if m.ID != "" {
			last = m.ID
		}
		return nil
	})
	if ctx.Err() != nil {
		return last, ctx.Err()
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return last, err
}

// Follow reads the event stream and reconnects, to any of the client's
// addresses, with the last id it saw, so no event is lost or repeated
// across a dropped connection or a node that went away. It returns when
// ctx ends (nil) or fn fails; a refused request (bad token, bad filter)
// is returned at once.
func (e Events) Follow(ctx context.Context, f EventFilter, after string, fn func(Event) error) error {
	var fnErr error
	wrapped := func(ev Event) error {
		if err := fn(ev); err != nil {
			fnErr = err
			return err
		}
		return nil
	}
	backoff := 100 * time.Millisecond
	for {
		var err error
		after, err = e.Stream(ctx, f, after, wrapped)
		if ctx.Err() != nil {
			return nil
		}
		if fnErr != nil {
			return fnErr
		}
		var apiErr *Error
		if errors.As(err, &apiErr) && apiErr.Status != http.StatusServiceUnavailable && apiErr.Status != http.StatusTooManyRequests {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// SSEMessage is one server-sent event as the wire has it.
type SSEMessage struct {
	ID, Event, Data string
}

// maxSSELine bounds one line of an event stream.
const maxSSELine = 1 << 20

// ReadSSE parses a text/event-stream body, calling fn for each message
// (comments and retry fields are skipped) until the body ends (nil) or
// fn fails.
func ReadSSE(r io.Reader, fn func(SSEMessage) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxSSELine)
	var m SSEMessage
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if len(data) > 0 || m.ID != "" || m.Event != "" {
				m.Data = strings.Join(data, "\n")
				if err := fn(m); err != nil {
					return err
				}
			}
			m, data = SSEMessage{}, nil
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			m.ID = value
		case "event":
			m.Event = value
		case "data":
			data = append(data, value)
		}
	}
	return sc.Err()
}
