package beacon

import (
	"errors"
	"io"
	"net/http"
	"net/netip"

	"github.com/livestreams/livestreams/shared/geoip"
)

// Handler defaults.
const (
	DefaultRate  = 2  // requests a second per address
	DefaultBurst = 20 // requests at once per address
	maxLimited   = 100_000
)

// Handler serves POST /beacon. Answers: 204 counted (events of unknown
// playback ids included: they are dropped silently), 400 not a JSON array
// of events, 405 not POST, 413 body over MaxBody, 429 too many requests
// from the address (the body is not read).
type Handler struct {
	agg     *Aggregator
	trusted []netip.Prefix
	limit   *Limiter
}

// NewHandler serves beacons into agg; trusted are the proxies whose
// X-Forwarded-For is believed (geoip.ClientIP); limit nil means
// DefaultRate and DefaultBurst.
func NewHandler(agg *Aggregator, trusted []netip.Prefix, limit *Limiter) *Handler {
	if limit == nil {
		limit = NewLimiter(DefaultRate, DefaultBurst, maxLimited)
	}
	return &Handler{agg: agg, trusted: trusted, limit: limit}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Pages on any origin send beacons; sendBeacon's text/plain needs no
	// preflight, fetch with JSON does.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions:
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "beacons are POSTed", http.StatusMethodNotAllowed)
		return
	}
	v := ViewerOf(r, h.trusted)
	if !h.limit.Allow(v.IP) {
		http.Error(w, "too many beacons", http.StatusTooManyRequests)
		return
	}
	if r.ContentLength > MaxBody {
		http.Error(w, "beacon body too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		http.Error(w, "beacon body too large", http.StatusRequestEntityTooLarge)
		return
	} else if err != nil {
		http.Error(w, "read beacon body", http.StatusBadRequest)
		return
	}
	events, skipped, err := Parse(body)
	if err != nil {
		http.Error(w, "beacon body must be a JSON array of events", http.StatusBadRequest)
		return
	}
	if skipped > 0 {
		h.agg.mu.Lock()
		h.agg.stats.Skipped += int64(skipped)
		h.agg.mu.Unlock()
	}
	h.agg.Ingest(v, events)
	w.WriteHeader(http.StatusNoContent)
}

// ViewerOf is the viewer behind a request.
func ViewerOf(r *http.Request, trusted []netip.Prefix) Viewer {
	return Viewer{IP: geoip.ClientIP(r, trusted), UserAgent: r.UserAgent()}
}
