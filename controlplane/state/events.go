package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Event is one step of an org's pipeline, recorded by the command that made
// the change. Its ID is derived from the Raft log index of that command (and
// the event's place among the events the command emitted), so every node
// holds the same ids in the same order and a client may resume from any
// node with the last id it saw.
type Event struct {
	ID        string          `json:"id"`
	OrgID     string          `json:"org_id"`
	Type      string          `json:"type"`
	StreamID  string          `json:"stream_id,omitempty"`
	AssetID   string          `json:"asset_id,omitempty"`
	JobID     string          `json:"job_id,omitempty"`
	SessionID string          `json:"session_id,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	At        time.Time       `json:"at"`
}

// Event types, named as the API and webhooks show them.
const (
	EventPublishAuthorized    = "publish.authorized"
	EventPublishRefused       = "publish.refused"
	EventSessionStarted       = "session.started"
	EventSessionEnded         = "session.ended"
	EventTranscodeStarted     = "transcode.started"
	EventRecordingFinalized   = "recording.finalized"
	EventRecordingUploaded    = "recording.uploaded"
	EventAssetCreated         = "asset.created"
	EventAssetReady           = "asset.ready"
	EventAssetErrored         = "asset.errored"
	EventJobQueued            = "job.queued"
	EventJobStarted           = "job.started"
	EventJobProgress          = "job.progress"
	EventJobSucceeded         = "job.succeeded"
	EventJobFailed            = "job.failed"
	EventJobCancelled         = "job.cancelled"
	EventRestreamStarted      = "restream.started"
	EventRestreamFailed       = "restream.failed"
	EventRestreamReconnecting = "restream.reconnecting"
	EventRestreamStopped      = "restream.stopped"
	EventWebhookDelivered     = "webhook.delivered"
	EventWebhookFailed        = "webhook.failed"
)

// EventTypes lists every event type, for validation of filters and webhook
// subscriptions.
var EventTypes = []string{
	EventPublishAuthorized, EventPublishRefused, EventSessionStarted, EventSessionEnded,
	EventTranscodeStarted, EventRecordingFinalized, EventRecordingUploaded,
	EventAssetCreated, EventAssetReady, EventAssetErrored,
	EventJobQueued, EventJobStarted, EventJobProgress, EventJobSucceeded, EventJobFailed, EventJobCancelled,
	EventRestreamStarted, EventRestreamFailed, EventRestreamReconnecting, EventRestreamStopped,
	EventWebhookDelivered, EventWebhookFailed,
}

// IsEventType reports whether t is a known event type.
func IsEventType(t string) bool {
	for _, k := range EventTypes {
		if k == t {
			return true
		}
	}
	return false
}

// Buckets of the event log. They are created on first write rather than
// at open so that the log needs no edit of the shared bucket table; a read
// before any event finds no bucket and an empty log.
var (
	bEvents      = []byte("events")        // id -> Event
	bEventsByOrg = []byte("events_by_org") // orgID/id -> nothing
	bEventCounts = []byte("event_counts")  // orgID -> uint64 count
)

var eventSeqKey = []byte("event_seq") // in bMeta: index(8) seq(4) of the last id

// EventID formats the id of the seq-th event emitted by the command at a
// Raft index: fixed-width hex, so ids sort as strings in log order.
func EventID(index uint64, seq uint32) string {
	return fmt.Sprintf("%016x-%04x", index, seq)
}

// ParseEventID reads an id made by EventID (a Last-Event-ID header, an
// ?after= parameter). The empty string is the start of the log.
func ParseEventID(s string) (index uint64, seq uint32, err error) {
	if s == "" {
		return 0, 0, nil
	}
	if len(s) != 21 || s[16] != '-' {
		return 0, 0, Invalid("event id %q is not of the form XXXXXXXXXXXXXXXX-XXXX", trunc(s, 40))
	}
	for _, c := range s[:16] + s[17:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return 0, 0, Invalid("event id %q is not lower-case hex", trunc(s, 40))
		}
	}
	index, err = strconv.ParseUint(s[:16], 16, 64)
	if err != nil {
		return 0, 0, Invalid("event id %q: %v", trunc(s, 40), err)
	}
	seq64, err := strconv.ParseUint(s[17:], 16, 16)
	if err != nil {
		return 0, 0, Invalid("event id %q: %v", trunc(s, 40), err)
	}
	return index, uint32(seq64), nil
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// AppendEvent records ev with the next id of the command being applied
// (the applied index of this transaction, which the FSM sets before it
// runs the command) and returns the stored event.
func (t *Tx) AppendEvent(ev Event) (Event, error) {
	if ev.OrgID == "" || ev.Type == "" {
		return ev, fmt.Errorf("append event: org and type are required")
	}
	index := t.AppliedIndex()
	var seq uint32
	if v := t.tx.Bucket(bMeta).Get(eventSeqKey); len(v) == 12 && binary.BigEndian.Uint64(v[:8]) == index {
		seq = binary.BigEndian.Uint32(v[8:]) + 1
	}
	var sv [12]byte
	binary.BigEndian.PutUint64(sv[:8], index)
	binary.BigEndian.PutUint32(sv[8:], seq)
	if err := t.tx.Bucket(bMeta).Put(eventSeqKey, sv[:]); err != nil {
		return ev, fmt.Errorf("append event: %w", err)
	}
	ev.ID = EventID(index, seq)
	raw, err := json.Marshal(ev)
	if err != nil {
		return ev, fmt.Errorf("append event %s: %w", ev.Type, err)
	}
	evs, err := t.tx.CreateBucketIfNotExists(bEvents)
	if err != nil {
		return ev, fmt.Errorf("append event: %w", err)
	}
	byOrg, err := t.tx.CreateBucketIfNotExists(bEventsByOrg)
	if err != nil {
		return ev, fmt.Errorf("append event: %w", err)
	}
	counts, err := t.tx.CreateBucketIfNotExists(bEventCounts)
	if err != nil {
		return ev, fmt.Errorf("append event: %w", err)
	}
	if err := evs.Put([]byte(ev.ID), raw); err != nil {
		return ev, fmt.Errorf("append event: %w", err)
	}
	if err := byOrg.Put([]byte(ev.OrgID+"/"+ev.ID), nil); err != nil {
		return ev, fmt.Errorf("append event: %w", err)
	}
	return ev, putCount(counts.Put, ev.OrgID, getCount(counts.Get, ev.OrgID)+1)
}

func getCount(get func([]byte) []byte, org string) uint64 {
	v := get([]byte(org))
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putCount(put func(k, v []byte) error, org string, n uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return put([]byte(org), b[:])
}

// EventFilter selects events; empty fields match everything.
type EventFilter struct {
	StreamID string
	AssetID  string
	JobID    string
	Types    []string
}

// Match reports whether ev passes the filter.
func (f EventFilter) Match(ev Event) bool {
	if f.StreamID != "" && ev.StreamID != f.StreamID ||
		f.AssetID != "" && ev.AssetID != f.AssetID ||
		f.JobID != "" && ev.JobID != f.JobID {
		return false
	}
	if len(f.Types) == 0 {
		return true
	}
	for _, t := range f.Types {
		if t == ev.Type {
			return true
		}
	}
	return false
}

// EventsAfter returns up to limit events of every org with ids after
// afterID, in id order (the in-process fan-out reads this).
func (t *Tx) EventsAfter(afterID string, limit int) ([]Event, error) {
	b := t.tx.Bucket(bEvents)
	if b == nil {
		return nil, nil
	}
	var out []Event
	c := b.Cursor()
	k, v := c.Seek([]byte(afterID))
	if k != nil && string(k) == afterID {
		k, v = c.Next()
	}
	for ; k != nil && len(out) < limit; k, v = c.Next() {
		var ev Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return out, fmt.Errorf("decode event %s: %w", k, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// LastEventID returns the id of the newest event in the log, "" if none.
func (t *Tx) LastEventID() string {
	b := t.tx.Bucket(bEvents)
	if b == nil {
		return ""
	}
	k, _ := b.Cursor().Last()
	return string(k)
}

// OrgEventsAfter returns up to limit events of one org that pass the
// filter, with ids after afterID, in id order. next is the id to pass as
// afterID for the following page ("" when the log has no more).
func (t *Tx) OrgEventsAfter(orgID, afterID string, f EventFilter, limit int) (out []Event, next string, err error) {
	byOrg, evs := t.tx.Bucket(bEventsByOrg), t.tx.Bucket(bEvents)
	if byOrg == nil || evs == nil {
		return nil, "", nil
	}
	prefix := []byte(orgID + "/")
	c := byOrg.Cursor()
	k, _ := c.Seek(append(append([]byte{}, prefix...), afterID...))
	if k != nil && string(k[len(prefix):]) == afterID {
		k, _ = c.Next()
	}
	for ; k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
		if len(out) >= limit {
			return out, out[len(out)-1].ID, nil
		}
		id := k[len(prefix):]
		var ev Event
		if err := json.Unmarshal(evs.Get(id), &ev); err != nil {
			return out, "", fmt.Errorf("decode event %s: %w", id, err)
		}
		if f.Match(ev) {
			out = append(out, ev)
		}
	}
	return out, "", nil
}

// PruneEvents deletes, per org, the events older than before and the oldest
// beyond max (0: no count bound). It returns how many it deleted. The
// leader proposes it with both bounds inside the command, so every node
// deletes the same events.
func (t *Tx) PruneEvents(before time.Time, max uint64) (int, error) {
	counts := t.tx.Bucket(bEventCounts)
	byOrg, evs := t.tx.Bucket(bEventsByOrg), t.tx.Bucket(bEvents)
	if counts == nil || byOrg == nil || evs == nil {
		return 0, nil
	}
	type orgCount struct {
		org string
		n   uint64
	}
	var orgs []orgCount
	if err := counts.ForEach(func(k, v []byte) error {
		orgs = append(orgs, orgCount{string(k), getCount(func([]byte) []byte { return v }, "")})
		return nil
	}); err != nil {
		return 0, err
	}
	deleted := 0
	for _, oc := range orgs {
		prefix := []byte(oc.org + "/")
		var drop [][]byte
		n := oc.n
		c := byOrg.Cursor()
		for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
			id := k[len(prefix):]
			if max == 0 || n <= max {
				var ev struct {
					At time.Time `json:"at"`
				}
				if err := json.Unmarshal(evs.Get(id), &ev); err != nil {
					return deleted, fmt.Errorf("decode event %s: %w", id, err)
				}
				if !ev.At.Before(before) {
					break
				}
			}
			drop = append(drop, append([]byte{}, k...))
			n--
		}
		for _, k := range drop {
			if err := evs.Delete(k[len(prefix):]); err != nil {
				return deleted, err
			}
			if err := byOrg.Delete(k); err != nil {
				return deleted, err
			}
		}
		deleted += len(drop)
		if n == 0 {
			if err := counts.Delete([]byte(oc.org)); err != nil {
				return deleted, err
			}
		} else if err := putCount(counts.Put, oc.org, n); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}
