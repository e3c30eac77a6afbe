package api

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/controlplane/webhooks"
)

type (
	webhookView            = client.Webhook
	webhookCreateRequest   = client.WebhookCreate
	webhookUpdateRequest   = client.WebhookUpdate
	webhookRotateRequest   = client.WebhookRotate
	webhookWithSecret      = client.WebhookWithSecret
	webhookDeliveryView    = client.WebhookDelivery
	webhookDeliveryAttempt = client.WebhookAttempt
)

// Bounds of an endpoint's secret when the caller brings its own.
const (
	minWebhookSecret = 16
	maxWebhookSecret = 200
)

func viewWebhook(w state.Webhook) webhookView {
	types := w.EventTypes
	if types == nil {
		types = []string{}
	}
	return webhookView{ID: w.ID, URL: w.URL, Description: w.Description, EventTypes: types,
		Enabled: w.Enabled, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

func viewDelivery(d state.WebhookDelivery, withBody bool) webhookDeliveryView {
	v := webhookDeliveryView{ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, EventType: d.EventType,
		Status: d.Status, RedeliveryOf: d.RedeliveryOf, Attempts: []webhookDeliveryAttempt{},
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	for _, a := range d.Attempts {
		v.Attempts = append(v.Attempts, webhookDeliveryAttempt(a))
	}
	if d.Status == state.DeliveryPending {
		at := d.NextAttemptAt
		v.NextAttemptAt = &at
	}
	if withBody {
		b := string(d.Body)
		v.Body = &b
	}
	return v
}

// checkWebhookURL validates an endpoint URL against the operator's SSRF
// policy (the dispatcher checks the resolved address again at connect
// time).
func (h *Handler) checkWebhookURL(raw string) error {
	if err := webhooks.CheckURL(raw, h.cfg.WebhookAllowPrivate); err != nil {
		return invalid("%v", err)
	}
	return nil
}

func checkEventTypes(types []string) error {
	for _, t := range types {
		if !state.WebhookEventType(t) {
			var known []string
			for _, k := range state.EventTypes {
				if state.WebhookEventType(k) {
					known = append(known, k)
				}
			}
			return invalid("unknown event type %q: one of %s", t, strings.Join(known, ", "))
		}
	}
	return nil
}

func checkWebhookSecret(s string) error {
	if len(s) < minWebhookSecret || len(s) > maxWebhookSecret {
		return invalid("secret must be %d to %d characters", minWebhookSecret, maxWebhookSecret)
	}
	for _, c := range s {
		if c <= ' ' || c > '~' {
			return invalid("secret must be printable ASCII without spaces")
		}
	}
	return nil
}

// urlHost is what logs say of an endpoint: its host, never its path or
// query, which may carry a token of the receiver's.
func urlHost(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}

func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request) {
	orgID := caller(r.Context()).orgID
	var hooks []state.Webhook
	if err := h.view(func(tx *state.Tx) error {
		var err error
		hooks, err = tx.Webhooks(orgID)
		return err
	}); err != nil {
		h.writeError(w, r, err)
		return
	}
	sortByTime(hooks, func(w state.Webhook) (time.Time, string) { return w.CreatedAt, w.ID })
	out := make([]webhookView, 0, len(hooks))
	for _, wh := range hooks {
		out = append(out, viewWebhook(wh))
	}
	writeJSON(w, http.StatusOK, items(out))
}

func (h *Handler) getWebhook(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var wh state.Webhook
	if err := h.view(func(tx *state.Tx) error {
		var err error
		wh, err = tx.Webhook(orgID, id)
		return err
	}); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewWebhook(wh))
}

// createWebhook makes an endpoint; its secret (generated unless given) is
// in this answer only.
func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) {
	orgID := caller(r.Context()).orgID
	var in webhookCreateRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.checkWebhookURL(in.URL); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := checkEventTypes(in.EventTypes); err != nil {
		h.writeError(w, r, err)
		return
	}
	secret := in.Secret
	if secret == "" {
		secret = webhooks.NewSecret()
	} else if err := checkWebhookSecret(secret); err != nil {
		h.writeError(w, r, err)
		return
	}
	sealed, err := h.seal(state.SealWebhookSecret, secret)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	now := h.now()
	wh := state.Webhook{ID: ids.New("wh"), OrgID: orgID, URL: in.URL, Description: in.Description,
		SecretSealed: sealed, EventTypes: in.EventTypes, Enabled: in.Enabled == nil || *in.Enabled,
		CreatedAt: now, UpdatedAt: now}
	if err := h.apply(r.Context(), fsm.CmdCreateWebhook, wh, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("webhook created", "webhook_id", wh.ID, "org_id", orgID, "host", urlHost(wh.URL))
	writeJSON(w, http.StatusCreated, webhookWithSecret{Webhook: viewWebhook(wh), Secret: secret})
}

func (h *Handler) updateWebhook(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var in webhookUpdateRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	if in.URL != nil {
		if err := h.checkWebhookURL(*in.URL); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if in.EventTypes != nil {
		if err := checkEventTypes(*in.EventTypes); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	cmd := fsm.UpdateWebhook{OrgID: orgID, ID: id, URL: in.URL, Description: in.Description,
		EventTypes: in.EventTypes, Enabled: in.Enabled, At: h.now()}
	var out state.Webhook
	if err := h.apply(r.Context(), fsm.CmdUpdateWebhook, cmd, &out); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewWebhook(out))
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	if err := h.apply(r.Context(), fsm.CmdDeleteWebhook, fsm.DeleteWebhook{OrgID: orgID, ID: id, At: h.now()}, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// rotateWebhookSecret replaces the secret at once; deliveries signed from
// now on use the new one.
func (h *Handler) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var in webhookRotateRequest
	if err := decode(r, &in, true); err != nil {
		h.writeError(w, r, err)
		return
	}
	secret := in.Secret
	if secret == "" {
		secret = webhooks.NewSecret()
	} else if err := checkWebhookSecret(secret); err != nil {
		h.writeError(w, r, err)
		return
	}
	sealed, err := h.seal(state.SealWebhookSecret, secret)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var out state.Webhook
	cmd := fsm.UpdateWebhook{OrgID: orgID, ID: id, SecretSealed: &sealed, At: h.now()}
	if err := h.apply(r.Context(), fsm.CmdUpdateWebhook, cmd, &out); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("webhook secret rotated", "webhook_id", id, "org_id", orgID)
	writeJSON(w, http.StatusOK, webhookWithSecret{Webhook: viewWebhook(out), Secret: secret})
}

// testWebhook queues a webhook.ping delivery to the endpoint (enabled or
// not: a disabled one records a failed attempt).
func (h *Handler) testWebhook(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var wh state.Webhook
	if err := h.view(func(tx *state.Tx) error {
		var err error
		wh, err = tx.Webhook(orgID, id)
		return err
	}); err != nil {
		h.writeError(w, r, err)
		return
	}
	now := h.now()
	ev := state.Event{ID: ids.New("ping"), OrgID: orgID, Type: state.EventPing, At: now,
		Data: []byte(`{"webhook_id":"` + wh.ID + `"}`)}
	body, err := webhooks.Body(ev)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	d := webhooks.NewDelivery(wh, ev.ID, ev.Type, body, now)
	if err := h.apply(r.Context(), fsm.CmdCreateDeliveries, fsm.CreateDeliveries{Deliveries: []state.WebhookDelivery{d}}, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, viewDelivery(d, false))
}

// Bounds of a delivery list.
const (
	defaultDeliveries = 50
	maxDeliveries     = 500
)

func (h *Handler) listDeliveries(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	limit, _, err := pageParams(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if r.URL.Query().Get("limit") == "" {
		limit = defaultDeliveries
	}
	limit = min(limit, maxDeliveries)
	var ds []state.WebhookDelivery
	if err := h.view(func(tx *state.Tx) error {
		if _, err := tx.Webhook(orgID, id); err != nil {
			return err
		}
		var err error
		ds, err = tx.Deliveries(id, limit)
		return err
	}); err != nil {
		h.writeError(w, r, err)
		return
	}
	out := make([]webhookDeliveryView, 0, len(ds))
	for _, d := range ds {
		out = append(out, viewDelivery(d, false))
	}
	writeJSON(w, http.StatusOK, items(out))
}

func (h *Handler) getDelivery(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var d state.WebhookDelivery
	if err := h.view(func(tx *state.Tx) error {
		var err error
		d, err = tx.Delivery(id)
		if err == nil && d.OrgID != orgID {
			err = state.NotFound("delivery %s", id)
		}
		return err
	}); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewDelivery(d, true))
}

// redeliver sends a delivery's event again, same event id and body, as a
// new delivery due now.
func (h *Handler) redeliver(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var out state.WebhookDelivery
	cmd := fsm.Redeliver{OrgID: orgID, ID: id, NewID: ids.New("whd"), At: h.now()}
	if err := h.apply(r.Context(), fsm.CmdRedeliver, cmd, &out); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, viewDelivery(out, false))
}
