package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/livestreams/livestreams/controlplane/analytics"
	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/state"
)

// getAnalytics answers the viewing figures of one of the caller's org's
// streams or assets (package analytics adds up the stored rollups).
func (h *Handler) getAnalytics(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	now := time.Now().UTC()
	q := analytics.Query{OrgID: caller(r.Context()).orgID, StreamID: qs.Get("stream_id"), AssetID: qs.Get("asset_id"),
		GroupBy: qs.Get("group_by"), To: now, From: now.Add(-24 * time.Hour)}
	if q.GroupBy == "" {
		q.GroupBy = analytics.GroupHour
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if v := qs.Get(p.name); v != "" {
			t, err := parseTime(v)
			if err != nil {
				h.writeError(w, r, invalid("%s must be an RFC 3339 time or unix seconds", p.name))
				return
			}
			*p.t = t
		}
	}
	var bad *analytics.InvalidQueryError
	if err := q.Validate(); errors.As(err, &bad) {
		h.writeError(w, r, invalid("%s", bad.Reason))
		return
	}
	var out client.Analytics
	err := h.view(func(tx *state.Tx) error {
		// Another org's stream or asset is not found, not empty.
		if q.StreamID != "" {
			if _, err := orgStream(tx, q.OrgID, q.StreamID); err != nil {
				return err
			}
		} else if _, err := orgAsset(tx, q.OrgID, q.AssetID); err != nil {
			return err
		}
		var err error
		out, err = analytics.Run(tx, q)
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func parseTime(v string) (time.Time, error) {
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(secs, 0).UTC(), nil
	}
	return time.Parse(time.RFC3339, v)
}
