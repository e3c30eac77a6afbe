package fsm

import (
	"time"

	"github.com/livestreams/livestreams/controlplane/state"
)

// Webhook command types.
const (
	CmdCreateWebhook         = "create_webhook"
	CmdUpdateWebhook         = "update_webhook"
	CmdDeleteWebhook         = "delete_webhook"
	CmdCreateDeliveries      = "create_webhook_deliveries"
	CmdRedeliver             = "redeliver_webhook"
	CmdRecordWebhookAttempts = "record_webhook_attempts"
	CmdPruneDeliveries       = "prune_webhook_deliveries"
)

// Bounds of the webhook commands.
const (
	maxWebhookDescription = 500
	maxWebhookURL         = 2000
	// MaxWebhooksPerOrg bounds an org's endpoints, so one event's
	// deliveries always fit in one fan-out command.
	MaxWebhooksPerOrg = 100
	// MaxDeliveriesPerFanOut bounds the deliveries of one command.
	MaxDeliveriesPerFanOut    = 1000
	maxWebhookAttemptBodySize = 1024
)

// UpdateWebhook changes an endpoint; nil fields stay as they are.
// SecretSealed is a new secret sealed by the proposer (a rotation).
type UpdateWebhook struct {
	OrgID, ID    string
	URL          *string
	Description  *string
	EventTypes   *[]string
	Enabled      *bool
	SecretSealed *string
	At           time.Time
}

// DeleteWebhook removes an endpoint; its pending deliveries fail.
type DeleteWebhook struct {
	OrgID, ID string
	At        time.Time
}

// CreateDeliveries records the deliveries of the events up to Cursor (the
// dispatcher's fan-out, or with Cursor "" a test ping). A delivery of an
// event to an endpoint that already has one is skipped, so a fan-out a new
// leader repeats creates nothing twice.
type CreateDeliveries struct {
	Cursor     string
	Deliveries []state.WebhookDelivery
}

// Redeliver sends a delivery's event again, by hand, as a new delivery
// with the same event id and body.
type Redeliver struct {
	OrgID, ID string
	NewID     string
	At        time.Time
}

// PruneDeliveries deletes up to Max finished deliveries created before
// Before (the leader's retention, computed before proposing).
type PruneDeliveries struct {
	Before time.Time
	Max    int
}

// RecordWebhookAttempts records finished attempts in one command (the
// dispatcher batches what finished while the last one was applied). An
// attempt that is no longer the next of its delivery (recorded by a
// former leader, or the delivery ended) is skipped.
type RecordWebhookAttempts struct {
	Attempts []RecordWebhookAttempt
}

// RecordWebhookAttempt records attempt N of a delivery: a success ends
// it, a failure schedules the next attempt at NextAttemptAt or, when that
// is zero, ends it failed.
type RecordWebhookAttempt struct {
	ID            string
	Attempt       state.WebhookAttempt
	NextAttemptAt time.Time
}

func validWebhook(w state.Webhook) error {
	if w.URL == "" || len(w.URL) > maxWebhookURL {
		return state.Invalid("webhook url must be 1 to %d characters", maxWebhookURL)
	}
	if len(w.Description) > maxWebhookDescription {
		return state.Invalid("webhook description must be at most %d characters", maxWebhookDescription)
	}
	for _, t := range w.EventTypes {
		if !state.WebhookEventType(t) {
			return state.Invalid("unknown webhook event type %q", t)
		}
	}
	if w.SecretSealed == "" {
		return state.Invalid("webhook needs a secret")
	}
	return nil
}

func (f *FSM) registerWebhooks() {
	handle(f, CmdCreateWebhook, func(tx *state.Tx, w state.Webhook) (any, error) {
		if _, err := tx.Org(w.OrgID); err != nil {
			return nil, err
		}
		if err := validWebhook(w); err != nil {
			return nil, err
		}
		// This command emits no event: every later one has a greater id.
		w.FromEvent = state.EventID(tx.AppliedIndex()+1, 0)
		if _, err := tx.Webhook(w.OrgID, w.ID); err == nil {
			return nil, state.Conflict("webhook %s already exists", w.ID)
		}
		if hooks, err := tx.Webhooks(w.OrgID); err != nil {
			return nil, err
		} else if len(hooks) >= MaxWebhooksPerOrg {
			return nil, state.Conflict("an org has at most %d webhooks", MaxWebhooksPerOrg)
		}
		return w, tx.PutWebhook(w)
	})
	handle(f, CmdUpdateWebhook, func(tx *state.Tx, c UpdateWebhook) (any, error) {
		w, err := tx.Webhook(c.OrgID, c.ID)
		if err != nil {
			return nil, err
		}
		if c.URL != nil {
			w.URL = *c.URL
		}
		if c.Description != nil {
			w.Description = *c.Description
		}
		if c.EventTypes != nil {
			w.EventTypes = *c.EventTypes
		}
		if c.Enabled != nil {
			w.Enabled = *c.Enabled
		}
		if c.SecretSealed != nil {
			w.SecretSealed = *c.SecretSealed
		}
		if err := validWebhook(w); err != nil {
			return nil, err
		}
		w.UpdatedAt = c.At
		return w, tx.PutWebhook(w)
	})
	handle(f, CmdDeleteWebhook, func(tx *state.Tx, c DeleteWebhook) (any, error) {
		return nil, tx.DeleteWebhook(c.OrgID, c.ID, c.At)
	})
	handle(f, CmdCreateDeliveries, func(tx *state.Tx, c CreateDeliveries) (any, error) {
		if len(c.Deliveries) > MaxDeliveriesPerFanOut {
			return nil, state.Invalid("at most %d deliveries per command", MaxDeliveriesPerFanOut)
		}
		n := 0
		for _, d := range c.Deliveries {
			if tx.DeliveryFor(d.EventID, d.WebhookID) != "" {
				continue
			}
			if _, err := tx.Webhook(d.OrgID, d.WebhookID); err != nil {
				continue // deleted since the proposer looked
			}
			if _, err := tx.Delivery(d.ID); err == nil {
				return nil, state.Conflict("delivery %s already exists", d.ID)
			}
			d.Status, d.Attempts = state.DeliveryPending, nil
			if err := tx.PutDelivery(d); err != nil {
				return nil, err
			}
			n++
		}
		if c.Cursor != "" && c.Cursor > tx.WebhookCursor() {
			if err := tx.SetWebhookCursor(c.Cursor); err != nil {
				return nil, err
			}
		}
		return n, nil
	})
	handle(f, CmdRedeliver, func(tx *state.Tx, c Redeliver) (any, error) {
		d, err := tx.Delivery(c.ID)
		if err != nil || d.OrgID != c.OrgID {
			return nil, state.NotFound("delivery %s", c.ID)
		}
		if _, err := tx.Webhook(d.OrgID, d.WebhookID); err != nil {
			return nil, err
		}
		if _, err := tx.Delivery(c.NewID); err == nil {
			return nil, state.Conflict("delivery %s already exists", c.NewID)
		}
		orig := d.ID
		if d.RedeliveryOf != "" {
			orig = d.RedeliveryOf
		}
		nd := state.WebhookDelivery{ID: c.NewID, OrgID: d.OrgID, WebhookID: d.WebhookID, EventID: d.EventID,
			EventType: d.EventType, Body: d.Body, Status: state.DeliveryPending, RedeliveryOf: orig,
			NextAttemptAt: c.At, CreatedAt: c.At, UpdatedAt: c.At}
		return nd, tx.PutDelivery(nd)
	})
	handle(f, CmdPruneDeliveries, func(tx *state.Tx, c PruneDeliveries) (any, error) {
		if c.Max <= 0 || c.Max > 10_000 {
			return nil, state.Invalid("prune at most 1 to 10000 deliveries per command")
		}
		return tx.PruneDeliveries(c.Before, c.Max)
	})
	handle(f, CmdRecordWebhookAttempts, func(tx *state.Tx, c RecordWebhookAttempts) (any, error) {
		n := 0
		for _, a := range c.Attempts {
			if _, err := recordAttempt(tx, a); state.IsConflict(err) || state.IsNotFound(err) {
				continue
			} else if err != nil {
				return nil, err
			}
			n++
		}
		return n, nil
	})
}

func recordAttempt(tx *state.Tx, c RecordWebhookAttempt) (any, error) {
	d, err := tx.Delivery(c.ID)
	if err != nil {
		return nil, err
	}
	if d.Status != state.DeliveryPending {
		return nil, state.Conflict("delivery %s is %s", d.ID, d.Status)
	}
	if c.Attempt.N != len(d.Attempts)+1 {
		return nil, state.Conflict("delivery %s: attempt %d was recorded already", d.ID, c.Attempt.N)
	}
	a := c.Attempt
	if len(a.ResponseBody) > maxWebhookAttemptBodySize {
		a.ResponseBody = a.ResponseBody[:maxWebhookAttemptBodySize]
	}
	d.Attempts = append(d.Attempts, a)
	d.UpdatedAt = a.At
	switch {
	case a.OK:
		d.Status = state.DeliverySucceeded
	case c.NextAttemptAt.IsZero():
		d.Status = state.DeliveryFailed
	default:
		d.NextAttemptAt = c.NextAttemptAt
	}
	if err := tx.PutDelivery(d); err != nil {
		return nil, err
	}
	if d.Status != state.DeliveryPending {
		typ := state.EventWebhookDelivered
		if d.Status == state.DeliveryFailed {
			typ = state.EventWebhookFailed
		}
		err := emit(tx, state.Event{OrgID: d.OrgID, Type: typ, At: a.At, Data: eventData(map[string]any{
			"delivery_id": d.ID, "webhook_id": d.WebhookID, "event_id": d.EventID, "event_type": d.EventType,
			"attempts": len(d.Attempts), "response_code": a.ResponseCode,
		})})
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

// SealedWebhookSecret is an endpoint's signing secret sealed again with
// the keyring's active key (SealSecrets).
type SealedWebhookSecret struct {
	OrgID, ID string
	SealedValue
}

// resealWebhooks swaps in the endpoints' secrets sealed again, each only
// while the stored value is still the one it was computed from (a secret
// rotated meanwhile stays).
func resealWebhooks(tx *state.Tx, hooks []SealedWebhookSecret, n *int) error {
	for _, s := range hooks {
		w, err := tx.Webhook(s.OrgID, s.ID)
		if state.IsNotFound(err) {
			continue
		} else if err != nil {
			return err
		}
		before := *n
		w.SecretSealed = string(s.swap([]byte(w.SecretSealed), n))
		if *n > before {
			if err := tx.PutWebhook(w); err != nil {
				return err
			}
		}
	}
	return nil
}
