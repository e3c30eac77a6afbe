package state

import "time"

// Edge is an edge node as the control plane last heard of it. Liveness and
// load travel by gossip; what is recorded here is the lease that decides
// when its sessions are closed if it stops reporting.
type Edge struct {
	ID             string    `json:"id"`
	Region         string    `json:"region,omitempty"`
	RTMPURL        string    `json:"rtmp_url,omitempty"`
	RTMPSURL       string    `json:"rtmps_url,omitempty"`
	HLSURL         string    `json:"hls_url,omitempty"`
	SRTURL         string    `json:"srt_url,omitempty"`
	WHIPURL        string    `json:"whip_url,omitempty"`
	Lat            float64   `json:"lat,omitempty"`
	Lon            float64   `json:"lon,omitempty"`
	FirstSeenAt    time.Time `json:"first_seen_at"`
	LeaseExpiresAt time.Time `json:"lease_expires_at"`
	// Draining is an operator's order: take no new publishes or viewers,
	// finish what runs. It survives the edge's lease renewals.
	Draining bool `json:"draining,omitempty"`
}

// Edge returns one edge.
func (t *Tx) Edge(id string) (Edge, error) {
	var e Edge
	ok, err := t.get(bEdges, id, &e)
	if err == nil && !ok {
		err = NotFound("edge %s", id)
	}
	return e, err
}

// Edges lists all edges ever seen.
func (t *Tx) Edges() ([]Edge, error) { return list[Edge](t, bEdges, "") }

// PutEdge stores an edge.
func (t *Tx) PutEdge(e Edge) error { return t.put(bEdges, e.ID, e) }

// DeleteEdge forgets an edge (`livestreams node remove`).
func (t *Tx) DeleteEdge(id string) error { return t.del(bEdges, id) }
