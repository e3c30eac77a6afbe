package state

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Restream presets: where each service takes RTMP(S) ingest. A target of
// a preset may still name another ingest server of that service in URL.
const (
	PresetYouTube  = "youtube"
	PresetTwitch   = "twitch"
	PresetFacebook = "facebook"
	PresetKick     = "kick"
	PresetCustom   = "custom"
)

// RestreamPresets lists the presets, custom last.
func RestreamPresets() []string {
	return []string{PresetYouTube, PresetTwitch, PresetFacebook, PresetKick, PresetCustom}
}

// PresetURL is the default ingest URL of a preset ("" for custom, which
// names its own).
func PresetURL(preset string) string {
	switch preset {
	case PresetYouTube:
		return "rtmp://a.rtmp.youtube.com/live2"
	case PresetTwitch:
		return "rtmp://live.twitch.tv/app"
	case PresetFacebook:
		return "rtmps://live-api-s.facebook.com:443/rtmp/"
	case PresetKick:
		return "rtmps://fa723fc1b171.global-contribute.live-video.net/app"
	}
	return ""
}

// SealRestreamKey binds a sealed restream stream key to its field.
const SealRestreamKey = "restream_key"

// Restream target statuses. A target is idle while its stream is not
// live (or it is disabled); starting once its job is queued; live while
// the edge is sending to it; reconnecting while the edge retries a
// dropped connection; failed when its job gave up; stopped when the job
// ended because the target was switched off, deleted or the stream ended.
const (
	RestreamIdle         = "idle"
	RestreamStarting     = "starting"
	RestreamLive         = "live"
	RestreamReconnecting = "reconnecting"
	RestreamFailed       = "failed"
	RestreamStopped      = "stopped"
)

// RestreamStatuses lists the statuses a target can have.
func RestreamStatuses() []string {
	return []string{RestreamIdle, RestreamStarting, RestreamLive, RestreamReconnecting, RestreamFailed, RestreamStopped}
}

// Bounds of a stream's restream targets.
const (
	MaxRestreamTargets = 10
	MaxRestreamKey     = 512
	MaxRestreamURL     = 1024
)

// RestreamTarget is one place a stream is relayed to while it is live:
// an RTMP or RTMPS ingest URL and the stream key there. The key is stored
// sealed with the cluster keyring (SealRestreamKey, sealed by the
// proposer); it is opened only to answer the edge that runs the target's
// job, and never shown: KeyLast4 is what a view may show of it.
type RestreamTarget struct {
	ID       string `json:"id"`
	OrgID    string `json:"org_id"`
	StreamID string `json:"stream_id"`
	Name     string `json:"name"`
	Preset   string `json:"preset"`
	URL      string `json:"url"`
	// KeySealed is the target's stream key, sealed (see above).
	KeySealed string `json:"key_sealed"`
	// KeyLast4 is the key's last four characters when it is longer than
	// twelve (so they give away little of it), else "".
	KeyLast4 string `json:"key_last4,omitempty"`
	Enabled  bool   `json:"enabled"`
	// LinkedAccountID is the OAuth-linked account the target was made
	// from, if any.
	LinkedAccountID string `json:"linked_account_id,omitempty"`

	// Status, LastError and StatusAt are what the edge last reported of
	// the relay (or what the control plane decided); JobID is the
	// restream job of the current or last session.
	Status    string    `json:"status"`
	LastError string    `json:"last_error,omitempty"`
	StatusAt  time.Time `json:"status_at,omitzero"`
	JobID     string    `json:"job_id,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Last4 is what a view may show of a restream key (RestreamTarget.KeyLast4).
func Last4(key string) string {
	if len(key) <= 12 {
		return ""
	}
	return key[len(key)-4:]
}

// CheckRestreamURL checks an ingest URL: rtmp:// or rtmps:// with a host.
func CheckRestreamURL(raw string) error {
	if raw == "" || len(raw) > MaxRestreamURL {
		return Invalid("restream url must be 1 to %d characters", MaxRestreamURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "rtmp" && u.Scheme != "rtmps") || u.Hostname() == "" || u.User != nil {
		return Invalid("restream url must be rtmp://host[:port]/app or rtmps://host[:port]/app, without credentials")
	}
	return nil
}

// Valid checks a target's own fields (not its stream or org).
func (r RestreamTarget) Valid() error {
	switch {
	case r.ID == "" || len(r.ID) > 64:
		return Invalid("restream target id must be 1 to 64 characters")
	case r.Name == "" || len(r.Name) > 200:
		return Invalid("restream target name must be 1 to 200 characters")
	case !contains(RestreamPresets(), r.Preset):
		return Invalid("preset must be one of %s", strings.Join(RestreamPresets(), ", "))
	case r.KeySealed == "":
		return Invalid("restream target needs a stream key")
	case len(r.KeySealed) > 4*MaxRestreamKey:
		return Invalid("restream stream key is over %d bytes", MaxRestreamKey)
	case len(r.LinkedAccountID) > 64:
		return Invalid("linked account id is too long")
	}
	return CheckRestreamURL(r.URL)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// The restream table is created on first write, like the event log, so it
// needs no edit of the shared bucket list; a read before finds none.
var bRestreamTargets = []byte("restream_targets") // streamID/targetID -> RestreamTarget

func restreamKey(streamID, id string) []byte { return []byte(streamID + "/" + id) }

// RestreamTarget returns one target of a stream.
func (t *Tx) RestreamTarget(streamID, id string) (RestreamTarget, error) {
	var r RestreamTarget
	b := t.tx.Bucket(bRestreamTargets)
	var raw []byte
	if b != nil {
		raw = b.Get(restreamKey(streamID, id))
	}
	if raw == nil {
		return r, NotFound("restream target %s", id)
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("decode restream target %s: %w", id, err)
	}
	return r, nil
}

// RestreamTargets lists a stream's targets, oldest first.
func (t *Tx) RestreamTargets(streamID string) ([]RestreamTarget, error) {
	b := t.tx.Bucket(bRestreamTargets)
	if b == nil {
		return nil, nil
	}
	var out []RestreamTarget
	p := []byte(streamID + "/")
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && hasPrefix(k, p); k, v = c.Next() {
		var r RestreamTarget
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("decode restream target %s: %w", k, err)
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// RestreamTargetByJob finds the target whose current job is jobID.
func (t *Tx) RestreamTargetByJob(streamID, jobID string) (RestreamTarget, error) {
	all, err := t.RestreamTargets(streamID)
	if err != nil {
		return RestreamTarget{}, err
	}
	for _, r := range all {
		if r.JobID == jobID {
			return r, nil
		}
	}
	return RestreamTarget{}, NotFound("restream target of job %s", jobID)
}

// PutRestreamTarget stores a target.
func (t *Tx) PutRestreamTarget(r RestreamTarget) error {
	b, err := t.tx.CreateBucketIfNotExists(bRestreamTargets)
	if err != nil {
		return fmt.Errorf("restream targets: %w", err)
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode restream target %s: %w", r.ID, err)
	}
	return b.Put(restreamKey(r.StreamID, r.ID), raw)
}

// DeleteRestreamTarget removes a target.
func (t *Tx) DeleteRestreamTarget(streamID, id string) error {
	b := t.tx.Bucket(bRestreamTargets)
	if b == nil {
		return nil
	}
	return b.Delete(restreamKey(streamID, id))
}

// RestreamKey opens a target's stream key (read transactions only, with
// the store's keyring). Only the answer to the edge running the target's
// job calls it.
func (t *Tx) RestreamKey(r RestreamTarget) (string, error) {
	if t.tx.Writable() {
		return "", fmt.Errorf("restream key of %s: not opened while applying", r.ID)
	}
	k, err := t.kr.OpenString(SealRestreamKey, r.KeySealed)
	if err != nil {
		return "", fmt.Errorf("restream key of %s: %w", r.ID, err)
	}
	return k, nil
}
