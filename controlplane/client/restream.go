package client

import (
	"context"
	"net/http"
	"time"
)

// RestreamTarget is one place a stream is relayed to while it is live.
// Its stream key is never shown: KeySet says there is one and KeyLast4
// (for keys longer than twelve characters) which one.
type RestreamTarget struct {
	ID              string    `json:"id"`
	StreamID        string    `json:"stream_id"`
	Name            string    `json:"name"`
	Preset          string    `json:"preset"`
	URL             string    `json:"url"`
	KeySet          bool      `json:"key_set"`
	KeyLast4        string    `json:"key_last4,omitempty"`
	Enabled         bool      `json:"enabled"`
	LinkedAccountID string    `json:"linked_account_id,omitempty"`
	Status          string    `json:"status"`
	LastError       string    `json:"last_error,omitempty"`
	StatusAt        time.Time `json:"status_at,omitzero"`
	JobID           string    `json:"job_id,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// RestreamTargetCreate adds a target. Preset is youtube, twitch,
// facebook, kick or custom; URL is required for custom and otherwise
// defaults to the preset's ingest. Enabled defaults to true.
type RestreamTargetCreate struct {
	Name    string `json:"name"`
	Preset  string `json:"preset,omitempty"`
	URL     string `json:"url,omitempty"`
	Key     string `json:"key"`
	Enabled *bool  `json:"enabled,omitempty"`
}

// RestreamTargetUpdate changes the fields it sets.
type RestreamTargetUpdate struct {
	Name    *string `json:"name,omitempty"`
	Preset  *string `json:"preset,omitempty"`
	URL     *string `json:"url,omitempty"`
	Key     *string `json:"key,omitempty"`
	Enabled *bool   `json:"enabled,omitempty"`
}

// RestreamTargets are the restream targets of one stream.
type RestreamTargets struct {
	c        *Client
	streamID string
}

// RestreamTargets returns the restream targets of stream streamID.
func (c *Client) RestreamTargets(streamID string) RestreamTargets {
	return RestreamTargets{c: c, streamID: streamID}
}

func (r RestreamTargets) List(ctx context.Context) ([]RestreamTarget, error) {
	var out List[RestreamTarget]
	return out.Items, r.c.get(ctx, pathf("/v1/streams/%s/restream-targets", r.streamID), nil, &out)
}

func (r RestreamTargets) Create(ctx context.Context, in RestreamTargetCreate) (RestreamTarget, error) {
	var out RestreamTarget
	return out, r.c.post(ctx, pathf("/v1/streams/%s/restream-targets", r.streamID), in, &out)
}

func (r RestreamTargets) Get(ctx context.Context, id string) (RestreamTarget, error) {
	var out RestreamTarget
	return out, r.c.get(ctx, pathf("/v1/streams/%s/restream-targets/%s", r.streamID, id), nil, &out)
}

func (r RestreamTargets) Update(ctx context.Context, id string, in RestreamTargetUpdate) (RestreamTarget, error) {
	var out RestreamTarget
	return out, r.c.send1(ctx, http.MethodPatch, pathf("/v1/streams/%s/restream-targets/%s", r.streamID, id), in, &out)
}

func (r RestreamTargets) Delete(ctx context.Context, id string) error {
	return r.c.delete(ctx, pathf("/v1/streams/%s/restream-targets/%s", r.streamID, id), nil)
}
