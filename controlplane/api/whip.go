package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/fleet"
	"github.com/livestreams/livestreams/protocol"
)

// The same-origin WHIP proxy: the dashboard goes live from the browser
// with the user's session, and the control plane, which can unseal the
// stream key, relays the WHIP exchange to the edge with the key as the
// bearer token. The key never reaches the browser; the media goes from
// the browser to the edge directly (the SDP answer carries the edge's
// candidates).
//
// The proxy keeps no state: the session's resource on the control plane
// names the edge and the edge's own resource, so any control-plane node
// can relay the DELETE that ends it, and it is only ever relayed under the
// WHIP base URL of an edge the fleet knows.

// Limits of the WHIP proxy.
const (
	maxSDPBody      = 64 << 10  // an offer (or a PATCH fragment)
	maxEdgeAnswer   = 256 << 10 // the edge's SDP answer
	maxEdgeMessage  = 300       // of an edge's refusal, quoted in the error
	maxResourceLen  = 1024      // of the {resource} path segment
	edgeCallTimeout = 20 * time.Second
)

// sdpType is the media type of SDP offers and answers.
const sdpType = "application/sdp"

// whipPublish relays an SDP offer to the WHIP endpoint of the edge nearest
// the caller that offers WHIP, and answers with the edge's SDP answer and
// a Location on this API that ends the session.
func (h *Handler) whipPublish(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != sdpType {
		h.writeError(w, r, invalid("the offer must be sent as Content-Type: %s", sdpType))
		return
	}
	offer, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSDPBody))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(bytes.TrimSpace(offer)) == 0 {
		h.writeError(w, r, invalid("request body is required: an SDP offer"))
		return
	}
	key, err := h.streamKey(orgID, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rt, err := h.ingestRoute(r.Context(), clientIP(r.Context()), protocol.IngestWHIP)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	endpoint := viewIngest(rt, id, key).WHIPURL
	resp, answer, err := h.callEdge(r.Context(), rt.EdgeID, http.MethodPost, endpoint, key, r.Header, offer)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if resp.StatusCode != http.StatusCreated {
		h.log.Info("whip publish refused by the edge", "stream_id", id, "edge_id", rt.EdgeID, "status", resp.StatusCode)
		h.writeError(w, r, edgeRefusal(rt.EdgeID, resp.StatusCode, answer, key))
		return
	}
	resource, err := whipResource(rt.EdgeID, rt.WHIP, endpoint, resp.Header.Get("Location"))
	if err != nil {
		// The edge took the publish but gave no resource to end it by:
		// the browser, refused, sends no media and the edge's stall
		// timeout ends the session.
		h.log.Warn("whip publish without a usable resource", "stream_id", id, "edge_id", rt.EdgeID, "err", err)
		h.writeError(w, r, errorf(codeUnavailable, "edge %s answered without a usable session resource", rt.EdgeID))
		return
	}
	h.log.Info("whip publish relayed", "stream_id", id, "edge_id", rt.EdgeID, "by", caller(r.Context()).actorID())
	w.Header().Set("Content-Type", sdpType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", "/v1/streams/"+url.PathEscape(id)+"/whip/"+resource)
	if etag := resp.Header.Get("ETag"); etag != "" {
		w.Header().Set("ETag", etag)
	}
	w.WriteHeader(http.StatusCreated)
	w.Write(answer)
}

// whipResourceCall relays a DELETE (end the session) or a PATCH (trickle
// ICE, ICE restart) on a session's resource to the edge that holds it.
func (h *Handler) whipResourceCall(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var body []byte
	if r.Method == http.MethodPatch {
		var err error
		if body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxSDPBody)); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	key, err := h.streamKey(orgID, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	target, edgeID, err := h.resourceTarget(chi.URLParam(r, "resource"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	resp, answer, err := h.callEdge(r.Context(), edgeID, r.Method, target, key, r.Header, body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		h.writeError(w, r, edgeRefusal(edgeID, resp.StatusCode, answer, key))
		return
	}
	if r.Method == http.MethodDelete {
		h.log.Info("whip session ended", "stream_id", id, "edge_id", edgeID, "by", caller(r.Context()).actorID())
	}
	for _, k := range []string{"Content-Type", "ETag"} {
		if v := resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

// callEdge sends one WHIP request to an edge with the stream key as its
// bearer token, passing on the caller's Content-Type and If-Match, and
// reads the answer (bounded). A transport failure is a 503.
func (h *Handler) callEdge(ctx context.Context, edgeID, method, target, key string, in http.Header, body []byte) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, edgeCallTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("whip request to edge %s: %w", edgeID, err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	for _, k := range []string{"Content-Type", "If-Match"} {
		if v := in.Get(k); v != "" && body != nil {
			req.Header.Set(k, v)
		}
	}
	resp, err := h.edges.Do(req)
	if err != nil {
		h.log.Warn("whip edge unreachable", "edge_id", edgeID, "err", err)
		return nil, nil, errorf(codeUnavailable, "edge %s did not answer the WHIP request; try again", edgeID)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxEdgeAnswer))
	if err != nil {
		return nil, nil, errorf(codeUnavailable, "edge %s broke off its WHIP answer; try again", edgeID)
	}
	return resp, answer, nil
}

// newEdgeClient is the HTTP client of the WHIP proxy: it follows no
// redirect, so the key goes nowhere but the URL the fleet gave.
func newEdgeClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// edgeRefusal maps an edge's WHIP error to the API's error shape: its
// 4xx to the code of that kind, anything else to unavailable; the edge's
// message is quoted, cut short, without the key.
func edgeRefusal(edgeID string, status int, body []byte, key string) error {
	code := codeUnavailable
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		code = codeForbidden
	case status == http.StatusNotFound || status == http.StatusGone:
		code = codeNotFound
	case status == http.StatusConflict:
		code = codeConflict
	case status == http.StatusRequestEntityTooLarge:
		code = codeTooLarge
	case status == http.StatusTooManyRequests:
		code = codeRateLimited
	case status >= 400 && status <= 499:
		code = codeInvalid
	}
	msg := strings.ReplaceAll(string(body), key, redactedKey)
	msg = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, msg)
	msg = strings.TrimSpace(msg)
	if len(msg) > maxEdgeMessage {
		msg = strings.ToValidUTF8(msg[:maxEdgeMessage], "") + "…"
	}
	if msg == "" {
		msg = strings.ToLower(http.StatusText(status))
	}
	return errorf(code, "edge %s answered %d: %s", edgeID, status, msg)
}

// redactedKey stands for the stream key in an edge's message.
const redactedKey = "[stream key]"

// whipResource is the {resource} segment that names, on this API, the
// session an edge answered with location: the edge's id and the path of
// its resource, which must lie under the edge's WHIP base.
func whipResource(edgeID, base, endpoint, location string) (string, error) {
	if location == "" {
		return "", fmt.Errorf("no Location")
	}
	u, err := resolveUnder(base, endpoint, location)
	if err != nil {
		return "", err
	}
	res := base64.RawURLEncoding.EncodeToString([]byte(edgeID + "\n" + u.RequestURI()))
	if len(res) > maxResourceLen {
		return "", fmt.Errorf("location of %d bytes is too long", len(location))
	}
	return res, nil
}

// resourceTarget is the edge URL a {resource} segment names, on an edge
// the fleet knows, under its WHIP base.
func (h *Handler) resourceTarget(resource string) (target, edgeID string, err error) {
	gone := notFound("no such WHIP session")
	raw, err := base64.RawURLEncoding.DecodeString(resource)
	if len(resource) > maxResourceLen || err != nil {
		return "", "", gone
	}
	edgeID, path, ok := strings.Cut(string(raw), "\n")
	if !ok || h.cfg.Directory == nil {
		return "", "", gone
	}
	nodes, err := h.cfg.Directory.Nodes()
	if err != nil {
		return "", "", err
	}
	var edge *fleet.Node
	for i := range nodes {
		if nodes[i].ID == edgeID && nodes[i].WHIPURL != "" {
			edge = &nodes[i]
		}
	}
	if edge == nil {
		return "", "", gone
	}
	u, err := resolveUnder(edge.WHIPURL, edge.WHIPURL, path)
	if err != nil {
		return "", "", gone
	}
	return u.String(), edgeID, nil
}

// resolveUnder resolves ref against from and checks the result is under
// base: the same scheme and host, and a path beneath base's.
func resolveUnder(base, from, ref string) (*url.URL, error) {
	b, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	f, err := url.Parse(from)
	if err != nil {
		return nil, err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	u := f.ResolveReference(r)
	prefix := strings.TrimRight(b.Path, "/") + "/"
	if u.Scheme != b.Scheme || u.Host != b.Host || !strings.HasPrefix(u.Path, prefix) || strings.Contains(u.Path, "/../") {
		return nil, fmt.Errorf("%q is not under the edge's WHIP base %q", ref, base)
	}
	return u, nil
}
