package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/api/auth"
	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/events"
	"github.com/livestreams/livestreams/controlplane/state"
)

// The event stream's own timing.
const (
	// defaultHeartbeat is how often an idle stream sends a comment, so
	// proxies and clients can tell a quiet stream from a dead one.
	defaultHeartbeat = 15 * time.Second
	// eventWriteTimeout bounds one write to a client: one that stops
	// reading is dropped rather than holding its handler forever.
	eventWriteTimeout = 10 * time.Second
	// replayPage is how many stored events a replay reads at once.
	replayPage = 256
	// maxEventFilters bounds the types a filter may list.
	maxEventFilters = 32
)

// eventsAccess admits a viewer of the org by its session token or API key
// in Authorization, or the bearer of a query token minted for the org by
// POST /v1/events/token (EventSource cannot send headers). The handler
// checks it: the route table's authentication knows no query tokens.
var eventsAccess = access{rule: "viewer (Authorization, or ?token= from POST /v1/events/token)", role: state.RoleViewer,
	gate: func(h *Handler) func(http.Handler) http.Handler { return h.eventsReader }}

// eventsReader admits the readers of an org's events and puts a principal
// acting in that org in the context (a bare one for a query token: the
// route reads its org and nothing else).
func (h *Handler) eventsReader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := caller(r.Context())
		if p == nil {
			org, err := h.eventsOrg(r)
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			p = &principal{orgID: org, role: state.RoleViewer}
		}
		if err := p.need(state.RoleViewer); err != nil {
			h.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyPrincipal, p)))
	})
}

type eventView = client.Event

func viewEvent(ev state.Event) eventView {
	return eventView{ID: ev.ID, OrgID: ev.OrgID, Type: ev.Type, StreamID: ev.StreamID, AssetID: ev.AssetID,
		JobID: ev.JobID, SessionID: ev.SessionID, Data: ev.Data, At: ev.At}
}

// eventsOrg is the org whose events the request may read.
func (h *Handler) eventsOrg(r *http.Request) (string, error) {
	tok := r.URL.Query().Get("token")
	if tok == "" || r.Header.Get("Authorization") != "" {
		p, err := h.authenticate(r)
		if err != nil {
			return "", err
		}
		if err := p.need(state.RoleViewer); err != nil {
			return "", err
		}
		return p.orgID, nil
	}
	var orgID string
	err := h.view(func(tx *state.Tx) error {
		m, ok, err := tx.Meta()
		if err != nil {
			return err
		}
		if !ok {
			return errorf(codeUnavailable, "the cluster is not initialized yet")
		}
		org, actor, err := auth.ParseEventsToken(m.SessionSecret, tok, h.now())
		if err != nil {
			return errBadEventsToken
		}
		// The token lasts minutes; the power it was minted with is
		// checked at each use, so a revoked key or a removed member
		// stops reading at once.
		if !actorInOrg(tx, actor, org) {
			return errBadEventsToken
		}
		orgID = org
		return nil
	})
	return orgID, err
}

var errBadEventsToken = &apiError{Code: codeUnauthorized, Message: "invalid or expired events token: mint another with POST /v1/events/token"}

// actorInOrg says whether a user or API key may still read org.
func actorInOrg(tx *state.Tx, actor, org string) bool {
	if k, err := tx.APIKey(actor); err == nil {
		if k.RevokedAt != nil || k.OrgID != org {
			return false
		}
		_, _, alive, err := keyPower(tx, k)
		return err == nil && alive
	}
	u, err := tx.User(actor)
	if err != nil {
		return false
	}
	p := &principal{user: &u, clusterAdmin: u.Admin}
	if p.memberships, err = tx.UserOrgs(actor); err != nil {
		return false
	}
	_, err = roleIn(tx, p, org)
	return err == nil
}

// eventFilter reads ?stream_id=, ?asset_id=, ?job_id= and ?type= (comma
// separated).
func eventFilter(r *http.Request) (state.EventFilter, error) {
	q := r.URL.Query()
	f := state.EventFilter{StreamID: q.Get("stream_id"), AssetID: q.Get("asset_id"), JobID: q.Get("job_id")}
	for _, id := range []string{f.StreamID, f.AssetID, f.JobID} {
		if len(id) > 128 {
			return f, invalid("stream_id, asset_id and job_id are at most 128 characters")
		}
	}
	if t := q.Get("type"); t != "" {
		for _, typ := range strings.Split(t, ",") {
			typ = strings.TrimSpace(typ)
			if !state.IsEventType(typ) {
				return f, invalid("type %q is not an event type; see GET /v1/openapi.json or the README's list", clip(typ, 64))
			}
			f.Types = append(f.Types, typ)
		}
		if len(f.Types) > maxEventFilters {
			return f, invalid("at most %d types", maxEventFilters)
		}
	}
	return f, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// resumeID is where a reader resumes: the Last-Event-ID header an
// EventSource sends on reconnect, else ?after=.
func resumeID(r *http.Request) (string, error) {
	id := r.Header.Get("Last-Event-ID")
	if id == "" {
		id = r.URL.Query().Get("after")
	}
	if _, _, err := state.ParseEventID(id); err != nil {
		return "", invalid("Last-Event-ID or after: %v", err)
	}
	return id, nil
}

// events serves GET /v1/events: the org's event stream (SSE), or with
// ?format=json one page of the stored log.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	org := caller(r.Context()).orgID
	f, err := eventFilter(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	after, err := resumeID(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if r.URL.Query().Get("format") == "json" {
		h.listEvents(w, r, org, f, after)
		return
	}
	h.streamEvents(w, r, org, f, after)
}

func (h *Handler) listEvents(w http.ResponseWriter, r *http.Request, org string, f state.EventFilter, after string) {
	limit := defaultPageSize
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			h.writeError(w, r, invalid("limit must be a whole number from 1 to %d", maxPageSize))
			return
		}
		limit = n
	}
	var evs []state.Event
	var next string
	if err := h.view(func(tx *state.Tx) error {
		var err error
		evs, next, err = tx.OrgEventsAfter(org, after, f, limit)
		return err
	}); err != nil {
		h.writeError(w, r, err)
		return
	}
	out := page[eventView]{Items: make([]eventView, 0, len(evs)), NextCursor: next}
	for _, ev := range evs {
		out.Items = append(out.Items, viewEvent(ev))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) streamEvents(w http.ResponseWriter, r *http.Request, org string, f state.EventFilter, after string) {
	hub := h.cfg.Events
	if hub == nil {
		h.writeError(w, r, errorf(codeUnavailable, "this node serves no event stream"))
		return
	}
	sub, err := hub.Subscribe(org, after, f)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer sub.Close()
	ctx := r.Context()
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	w.WriteHeader(http.StatusOK)
	var buf []byte
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
		_, err := w.Write(buf)
		buf = buf[:0]
		if err == nil {
			err = rc.Flush()
		}
		return err
	}
	queue := func(frame []byte) error {
		buf = append(buf, frame...)
		if len(buf) >= 32<<10 {
			return flush()
		}
		return nil
	}
	buf = append(buf, ": events of org "+org+"\nretry: 2000\n\n"...)
	if err := sub.Replay(ctx, replayPage, func(ev state.Event) error { return queue(sseFrame(ev)) }); err != nil {
		return
	}
	if flush() != nil {
		return
	}
	beat := h.cfg.EventHeartbeat
	if beat <= 0 {
		beat = defaultHeartbeat
	}
	tick := time.NewTicker(beat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Done():
			why := sub.Err()
			if errors.Is(why, events.ErrSlow) {
				h.log.Info("event stream dropped a slow client", "org_id", org, "request_id", requestID(ctx))
			}
			if why != nil {
				buf = append(buf, "event: error\ndata: "+why.Error()+"\n\n"...)
				flush()
			}
			return
		case d := <-sub.C():
			if queue(d.Frame(sseFrame)) != nil {
				return
			}
			// Take what else is ready before writing: one write per burst.
			for drained := false; !drained; {
				select {
				case d := <-sub.C():
					if queue(d.Frame(sseFrame)) != nil {
						return
					}
				default:
					drained = true
				}
			}
			if flush() != nil {
				return
			}
		case <-tick.C:
			buf = append(buf, ": heartbeat\n\n"...)
			if flush() != nil {
				return
			}
		}
	}
}

// sseFrame is one event in the text/event-stream format: the id of a
// durable event (an ephemeral one has none, so a client's Last-Event-ID
// stays on the log), its type and its JSON on one data line.
func sseFrame(ev state.Event) []byte {
	raw, err := json.Marshal(viewEvent(ev))
	if err != nil {
		return nil
	}
	var buf []byte
	if ev.ID != "" {
		buf = append(buf, "id: "+ev.ID+"\n"...)
	}
	buf = append(buf, "event: "+ev.Type+"\ndata: "...)
	buf = append(buf, raw...)
	return append(buf, "\n\n"...)
}

type eventsTokenAnswer = client.EventsToken

// mintEventsToken serves POST /v1/events/token.
func (h *Handler) mintEventsToken(w http.ResponseWriter, r *http.Request) {
	p := caller(r.Context())
	var secret []byte
	if err := h.view(func(tx *state.Tx) error {
		m, ok, err := tx.Meta()
		if err == nil && !ok {
			err = errorf(codeUnavailable, "the cluster is not initialized yet")
		}
		secret = m.SessionSecret
		return err
	}); err != nil {
		h.writeError(w, r, err)
		return
	}
	tok, exp, err := auth.IssueEventsToken(secret, p.orgID, p.actorID(), h.now())
	if err != nil {
		h.writeError(w, r, fmt.Errorf("mint events token: %w", err))
		return
	}
	writeJSON(w, http.StatusCreated, eventsTokenAnswer{Token: tok, OrgID: p.orgID, ExpiresAt: exp})
}

type jobLogAnswer = client.JobLog

// jobLog serves GET /v1/jobs/{id}/log: the stored tail of a finished job's
// ffmpeg output, or while it runs what this node has seen of it.
func (h *Handler) jobLog(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var j state.Job
	var l state.JobLog
	var stored bool
	if err := h.view(func(tx *state.Tx) error {
		var err error
		if j, err = orgJob(tx, orgID, id); err != nil {
			return err
		}
		l, stored, err = tx.JobLogOf(id)
		return err
	}); err != nil {
		h.writeError(w, r, err)
		return
	}
	out := jobLogAnswer{JobID: j.ID, Lines: []string{}}
	switch {
	case stored:
		at := l.At
		out.Lines, out.Truncated, out.At = l.Lines, l.Truncated, &at
	case j.Active() && h.cfg.JobTails != nil:
		out.Running = true
		if lines, truncated, ok := h.cfg.JobTails.Get(orgID, j.ID); ok {
			out.Lines, out.Truncated = lines, truncated
		}
	}
	writeJSON(w, http.StatusOK, out)
}
