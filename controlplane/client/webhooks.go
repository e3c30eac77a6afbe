package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Webhook is an endpoint of the org. Its secret is shown only when it is
// created or rotated.
type Webhook struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	// EventTypes are the event types sent; empty means every type.
	EventTypes []string  `json:"event_types"`
	Enabled    bool      `json:"enabled"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// WebhookCreate creates an endpoint. Secret empty generates one
// ("whsec_…"); Enabled nil means enabled.
type WebhookCreate struct {
	URL         string   `json:"url"`
	Description string   `json:"description,omitempty"`
	EventTypes  []string `json:"event_types,omitempty"`
	Secret      string   `json:"secret,omitempty"`
	Enabled     *bool    `json:"enabled,omitempty"`
}

// WebhookUpdate changes an endpoint; nil fields stay as they are. An
// empty EventTypes list (not nil) subscribes to every type.
type WebhookUpdate struct {
	URL         *string   `json:"url,omitempty"`
	Description *string   `json:"description,omitempty"`
	EventTypes  *[]string `json:"event_types,omitempty"`
	Enabled     *bool     `json:"enabled,omitempty"`
}

// WebhookRotate replaces an endpoint's secret; Secret empty generates one.
type WebhookRotate struct {
	Secret string `json:"secret,omitempty"`
}

// WebhookWithSecret is the answer of create and rotate, the only ones
// that carry the secret.
type WebhookWithSecret struct {
	Webhook
	Secret string `json:"secret"`
}

// WebhookDelivery is one event on its way to one endpoint.
type WebhookDelivery struct {
	ID        string `json:"id"`
	WebhookID string `json:"webhook_id"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	// Status is pending, succeeded or failed.
	Status        string           `json:"status"`
	RedeliveryOf  string           `json:"redelivery_of,omitempty"`
	Attempts      []WebhookAttempt `json:"attempts"`
	NextAttemptAt *time.Time       `json:"next_attempt_at,omitempty"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
	// Body is the JSON sent (only in the answer for one delivery).
	Body *string `json:"body,omitempty"`
}

// WebhookAttempt is one POST of a delivery.
type WebhookAttempt struct {
	N            int       `json:"n"`
	At           time.Time `json:"at"`
	OK           bool      `json:"ok"`
	ResponseCode int       `json:"response_code,omitempty"`
	LatencyMS    int64     `json:"latency_ms"`
	ResponseBody string    `json:"response_body,omitempty"`
	Error        string    `json:"error,omitempty"`
}

// Webhooks of the caller's org and their deliveries.
type Webhooks struct{ c *Client }

func (c *Client) Webhooks() Webhooks { return Webhooks{c} }

func (w Webhooks) List(ctx context.Context) ([]Webhook, error) {
	var out List[Webhook]
	return out.Items, w.c.get(ctx, "/v1/webhooks", nil, &out)
}

func (w Webhooks) Get(ctx context.Context, id string) (Webhook, error) {
	var out Webhook
	return out, w.c.get(ctx, pathf("/v1/webhooks/%s", id), nil, &out)
}

// Create makes an endpoint; the answer carries its secret, once.
func (w Webhooks) Create(ctx context.Context, r WebhookCreate) (WebhookWithSecret, error) {
	var out WebhookWithSecret
	return out, w.c.post(ctx, "/v1/webhooks", r, &out)
}

func (w Webhooks) Update(ctx context.Context, id string, r WebhookUpdate) (Webhook, error) {
	var out Webhook
	return out, w.c.send1(ctx, http.MethodPatch, pathf("/v1/webhooks/%s", id), r, &out)
}

func (w Webhooks) Delete(ctx context.Context, id string) error {
	return w.c.delete(ctx, pathf("/v1/webhooks/%s", id), nil)
}

// RotateSecret replaces the endpoint's secret; the answer carries it, once.
func (w Webhooks) RotateSecret(ctx context.Context, id string, r WebhookRotate) (WebhookWithSecret, error) {
	var out WebhookWithSecret
	return out, w.c.post(ctx, pathf("/v1/webhooks/%s/rotate-secret", id), r, &out)
}

// Test queues a webhook.ping delivery to the endpoint.
func (w Webhooks) Test(ctx context.Context, id string) (WebhookDelivery, error) {
	var out WebhookDelivery
	return out, w.c.post(ctx, pathf("/v1/webhooks/%s/test", id), nil, &out)
}

// Deliveries lists an endpoint's deliveries, newest first (limit 0: the
// server's default).
func (w Webhooks) Deliveries(ctx context.Context, id string, limit int) ([]WebhookDelivery, error) {
	var out List[WebhookDelivery]
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return out.Items, w.c.get(ctx, pathf("/v1/webhooks/%s/deliveries", id), q, &out)
}

// Delivery returns one delivery with its attempts and body.
func (w Webhooks) Delivery(ctx context.Context, id string) (WebhookDelivery, error) {
	var out WebhookDelivery
	return out, w.c.get(ctx, pathf("/v1/webhooks/deliveries/%s", id), nil, &out)
}

// Redeliver sends a delivery's event again, with the same event id, as a
// new delivery.
func (w Webhooks) Redeliver(ctx context.Context, id string) (WebhookDelivery, error) {
	var out WebhookDelivery
	return out, w.c.post(ctx, pathf("/v1/webhooks/deliveries/%s/redeliver", id), nil, &out)
}
