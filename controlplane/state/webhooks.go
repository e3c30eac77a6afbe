package state

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// SealWebhookSecret binds a sealed webhook signing secret to its field.
const SealWebhookSecret = "webhook_secret"

// Webhook is an org's endpoint: where to POST the events it subscribes
// to, and the secret their signatures are made with (sealed, sealed.go).
type Webhook struct {
	ID           string `json:"id"`
	OrgID        string `json:"org_id"`
	URL          string `json:"url"`
	Description  string `json:"description,omitempty"`
	SecretSealed string `json:"secret_sealed"`
	// EventTypes are the event types sent; empty sends every type.
	EventTypes []string `json:"event_types,omitempty"`
	Enabled    bool     `json:"enabled"`
	// FromEvent is the id of the first possible event after the endpoint
	// was created (from the Raft index of its creation): older events are
	// not sent to it, whatever clock stamped them.
	FromEvent string    `json:"from_event,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Wants reports whether the endpoint is sent events of type typ.
func (w Webhook) Wants(typ string) bool {
	if !w.Enabled || !WebhookEventType(typ) {
		return false
	}
	if len(w.EventTypes) == 0 {
		return true
	}
	for _, t := range w.EventTypes {
		if t == typ {
			return true
		}
	}
	return false
}

// WebhookEventType reports whether events of type typ may be sent to
// webhooks: every event type but the webhooks' own (webhook.delivered,
// webhook.failed), which would make each delivery the cause of another.
func WebhookEventType(typ string) bool {
	return IsEventType(typ) && typ != EventWebhookDelivered && typ != EventWebhookFailed
}

// EventPing is the type of the event a test delivery sends; it is never in
// the event log.
const EventPing = "webhook.ping"

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// WebhookDelivery is one event on its way to one endpoint, attempted until
// the endpoint answers 2xx or the retry policy gives up. Body is the
// exact JSON sent on every attempt, so retries and redeliveries carry the
// same event id and bytes; only the signature's timestamp changes.
type WebhookDelivery struct {
	ID        string          `json:"id"`
	OrgID     string          `json:"org_id"`
	WebhookID string          `json:"webhook_id"`
	EventID   string          `json:"event_id"`
	EventType string          `json:"event_type"`
	Body      json.RawMessage `json:"body"`
	Status    string          `json:"status"`
	// RedeliveryOf is the delivery this one repeats by hand.
	RedeliveryOf  string           `json:"redelivery_of,omitempty"`
	Attempts      []WebhookAttempt `json:"attempts,omitempty"`
	NextAttemptAt time.Time        `json:"next_attempt_at,omitzero"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
}

// WebhookAttempt is one POST of a delivery and how it went.
type WebhookAttempt struct {
	N            int       `json:"n"`
	At           time.Time `json:"at"`
	OK           bool      `json:"ok"`
	ResponseCode int       `json:"response_code,omitempty"`
	LatencyMS    int64     `json:"latency_ms"`
	// ResponseBody is the start of the answer (at most 1 KiB).
	ResponseBody string `json:"response_body,omitempty"`
	Error        string `json:"error,omitempty"`
}

// Buckets of the webhooks, created on first write (as the event log's) so
// a read before any webhook finds none.
var (
	bWebhooks          = []byte("webhooks")                   // orgID/id -> Webhook
	bWebhookDeliveries = []byte("webhook_deliveries")         // id -> WebhookDelivery
	bDeliveriesByHook  = []byte("webhook_deliveries_by_hook") // webhookID/created(8)/id -> nothing
	bDeliveriesDue     = []byte("webhook_deliveries_due")     // next(8)/webhookID/id -> nothing
	bDeliveryKeys      = []byte("webhook_delivery_keys")      // eventID/webhookID -> delivery id
)

var webhookCursorKey = []byte("webhook_cursor") // in bMeta: the last event fanned out

func timeKey(at time.Time) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(at.UnixNano()))
	return b[:]
}

func dueKey(d WebhookDelivery) []byte {
	return joinKey(timeKey(d.NextAttemptAt), []byte(d.WebhookID), []byte(d.ID))
}

func joinKey(parts ...[]byte) []byte {
	var out []byte
	for i, p := range parts {
		if i > 0 {
			out = append(out, '/')
		}
		out = append(out, p...)
	}
	return out
}

// Webhook returns one endpoint of an org, its secret opened in a read
// transaction (sealed.go).
func (t *Tx) Webhook(orgID, id string) (Webhook, error) {
	var w Webhook
	b, err := t.bucket(bWebhooks)
	if err != nil {
		return w, err
	}
	var raw []byte
	if b != nil {
		raw = b.Get([]byte(orgID + "/" + id))
	}
	if raw == nil {
		return w, NotFound("webhook %s", id)
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return w, fmt.Errorf("decode webhook %s: %w", id, err)
	}
	w.SecretSealed, err = t.openString(SealWebhookSecret, w.SecretSealed)
	return w, err
}

// Webhooks lists an org's endpoints ("" lists every org's), secrets as
// stored (sealed): Webhook opens one.
func (t *Tx) Webhooks(orgID string) ([]Webhook, error) {
	b := t.tx.Bucket(bWebhooks)
	if b == nil {
		return nil, nil
	}
	prefix := []byte{}
	if orgID != "" {
		prefix = []byte(orgID + "/")
	}
	var out []Webhook
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
		var w Webhook
		if err := json.Unmarshal(v, &w); err != nil {
			return out, fmt.Errorf("decode webhook %s: %w", k, err)
		}
		out = append(out, w)
	}
	return out, nil
}

// PutWebhook stores an endpoint.
func (t *Tx) PutWebhook(w Webhook) error {
	b, err := t.bucket(bWebhooks)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("encode webhook %s: %w", w.ID, err)
	}
	return b.Put([]byte(w.OrgID+"/"+w.ID), raw)
}

// DeleteWebhook removes an endpoint; its deliveries still pending fail
// (their history stays readable until the org goes).
func (t *Tx) DeleteWebhook(orgID, id string, at time.Time) error {
	if _, err := t.Webhook(orgID, id); err != nil {
		return err
	}
	b, err := t.bucket(bWebhooks)
	if err != nil {
		return err
	}
	if err := b.Delete([]byte(orgID + "/" + id)); err != nil {
		return err
	}
	var pending []WebhookDelivery
	err = t.scanDeliveries(id, func(d WebhookDelivery) bool {
		if d.Status == DeliveryPending {
			pending = append(pending, d)
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, d := range pending {
		d.Status, d.UpdatedAt = DeliveryFailed, at
		if err := t.PutDelivery(d); err != nil {
			return err
		}
	}
	return nil
}

// Delivery returns one delivery.
func (t *Tx) Delivery(id string) (WebhookDelivery, error) {
	var d WebhookDelivery
	b := t.tx.Bucket(bWebhookDeliveries)
	var raw []byte
	if b != nil {
		raw = b.Get([]byte(id))
	}
	if raw == nil {
		return d, NotFound("delivery %s", id)
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return d, fmt.Errorf("decode delivery %s: %w", id, err)
	}
	return d, nil
}

// DeliveryFor returns the id of the delivery of an event to an endpoint,
// "" when there is none.
func (t *Tx) DeliveryFor(eventID, webhookID string) string {
	b := t.tx.Bucket(bDeliveryKeys)
	if b == nil {
		return ""
	}
	return string(b.Get([]byte(eventID + "/" + webhookID)))
}

// PutDelivery stores a delivery and keeps its indexes current: by
// endpoint, by event, and in the due queue while it is pending.
func (t *Tx) PutDelivery(d WebhookDelivery) error {
	deliveries, err := t.bucket(bWebhookDeliveries)
	if err != nil {
		return err
	}
	due, err := t.bucket(bDeliveriesDue)
	if err != nil {
		return err
	}
	if old, err := t.Delivery(d.ID); err == nil {
		if err := due.Delete(dueKey(old)); err != nil {
			return err
		}
	} else {
		byHook, err := t.bucket(bDeliveriesByHook)
		if err != nil {
			return err
		}
		if err := byHook.Put(joinKey([]byte(d.WebhookID), timeKey(d.CreatedAt), []byte(d.ID)), nil); err != nil {
			return err
		}
		if d.RedeliveryOf == "" {
			keys, err := t.bucket(bDeliveryKeys)
			if err != nil {
				return err
			}
			if err := keys.Put([]byte(d.EventID+"/"+d.WebhookID), []byte(d.ID)); err != nil {
				return err
			}
		}
	}
	if d.Status == DeliveryPending {
		if err := due.Put(dueKey(d), nil); err != nil {
			return err
		}
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delivery %s: %w", d.ID, err)
	}
	return deliveries.Put([]byte(d.ID), raw)
}

// Deliveries lists an endpoint's deliveries, newest first, at most limit.
func (t *Tx) Deliveries(webhookID string, limit int) ([]WebhookDelivery, error) {
	b := t.tx.Bucket(bDeliveriesByHook)
	if b == nil {
		return nil, nil
	}
	prefix := []byte(webhookID + "/")
	var ids []string
	c := b.Cursor()
	// Seek past the prefix's last key, then walk back.
	k, _ := c.Seek(append(append([]byte{}, prefix[:len(prefix)-1]...), '/'+1))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil && hasPrefix(k, prefix) && len(ids) < limit; k, _ = c.Prev() {
		ids = append(ids, string(k[len(prefix)+9:]))
	}
	out := make([]WebhookDelivery, 0, len(ids))
	for _, id := range ids {
		d, err := t.Delivery(id)
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}

func (t *Tx) scanDeliveries(webhookID string, fn func(WebhookDelivery) bool) error {
	b := t.tx.Bucket(bDeliveriesByHook)
	if b == nil {
		return nil
	}
	prefix := []byte(webhookID + "/")
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, _ = c.Next() {
		d, err := t.Delivery(string(k[len(prefix)+9:]))
		if err != nil {
			return err
		}
		if !fn(d) {
			return nil
		}
	}
	return nil
}

// DueDeliveries returns up to limit pending deliveries whose next attempt
// is at or before now, earliest first, and the time of the earliest one
// not yet due (zero when none). take is asked of each due one, by its
// endpoint and id, before it is read: false passes over it (under way,
// or its endpoint at its bound).
func (t *Tx) DueDeliveries(now time.Time, limit int, take func(webhookID, id string) bool) ([]WebhookDelivery, time.Time, error) {
	b := t.tx.Bucket(bDeliveriesDue)
	if b == nil {
		return nil, time.Time{}, nil
	}
	var out []WebhookDelivery
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) < 10 {
			continue
		}
		at := time.Unix(0, int64(binary.BigEndian.Uint64(k[:8])))
		if at.After(now) {
			return out, at, nil
		}
		if len(out) >= limit {
			return out, now, nil
		}
		hook, id, ok := strings.Cut(string(k[9:]), "/")
		if !ok || (take != nil && !take(hook, id)) {
			continue
		}
		d, err := t.Delivery(id)
		if err != nil {
			return out, time.Time{}, err
		}
		out = append(out, d)
	}
	return out, time.Time{}, nil
}

// WebhookCursor returns the id of the last event the dispatcher fanned out
// to the endpoints ("" before the first).
func (t *Tx) WebhookCursor() string { return string(t.tx.Bucket(bMeta).Get(webhookCursorKey)) }

// SetWebhookCursor records the last event fanned out.
func (t *Tx) SetWebhookCursor(id string) error {
	return t.tx.Bucket(bMeta).Put(webhookCursorKey, []byte(id))
}

// DeleteOrgWebhooks removes an org's endpoints and all their deliveries
// (the org is going).
func (t *Tx) DeleteOrgWebhooks(orgID string) error {
	hooks, err := t.Webhooks(orgID)
	if err != nil || len(hooks) == 0 {
		return err
	}
	var gone []WebhookDelivery
	for _, w := range hooks {
		if err := t.scanDeliveries(w.ID, func(d WebhookDelivery) bool { gone = append(gone, d); return true }); err != nil {
			return err
		}
	}
	for _, d := range gone {
		if err := t.deleteDelivery(d); err != nil {
			return err
		}
	}
	for _, w := range hooks {
		if err := t.delKey(bWebhooks, []byte(w.OrgID+"/"+w.ID)); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tx) delKey(bucket, key []byte) error {
	if b := t.tx.Bucket(bucket); b != nil {
		return b.Delete(key)
	}
	return nil
}

// deleteDelivery removes a delivery and its index entries.
func (t *Tx) deleteDelivery(d WebhookDelivery) error {
	for _, k := range []struct{ b, k []byte }{
		{bWebhookDeliveries, []byte(d.ID)},
		{bDeliveriesByHook, joinKey([]byte(d.WebhookID), timeKey(d.CreatedAt), []byte(d.ID))},
		{bDeliveriesDue, dueKey(d)},
	} {
		if err := t.delKey(k.b, k.k); err != nil {
			return err
		}
	}
	if d.RedeliveryOf == "" {
		return t.delKey(bDeliveryKeys, []byte(d.EventID+"/"+d.WebhookID))
	}
	return nil
}

// PruneDeliveries deletes up to max finished (succeeded or failed)
// deliveries created before before, and returns how many. Pending ones
// stay whatever their age. The leader proposes it with the bound inside
// the command, so every node deletes the same ones.
func (t *Tx) PruneDeliveries(before time.Time, max int) (int, error) {
	b := t.tx.Bucket(bDeliveriesByHook)
	if b == nil {
		return 0, nil
	}
	var old []string
	c := b.Cursor()
	for k, _ := c.First(); k != nil && len(old) < max; k, _ = c.Next() {
		hook, rest, ok := strings.Cut(string(k), "/")
		if !ok || len(rest) < 10 {
			continue
		}
		created := time.Unix(0, int64(binary.BigEndian.Uint64([]byte(rest[:8]))))
		if !created.Before(before) {
			// The rest of this endpoint's deliveries are newer: on to the next.
			if k, _ = c.Seek([]byte(hook + "0")); k == nil {
				break
			}
			k, _ = c.Prev()
			continue
		}
		old = append(old, rest[9:])
	}
	n := 0
	for _, id := range old {
		d, err := t.Delivery(id)
		if err != nil {
			return n, err
		}
		if d.Status == DeliveryPending {
			continue
		}
		if err := t.deleteDelivery(d); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
