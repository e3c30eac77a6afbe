// Package beacon is the edge's side of viewer analytics: it takes the
// player's beacons (POST /beacon, a small JSON array of events), counts the
// media the edge serves, and aggregates both per minute per (playback id,
// country, city, device class) in memory, for the edge to ship as
// protocol.Rollup batches once a minute.
//
// Outside input is bounded everywhere: the body size, the events per
// batch, the length of every string, the requests per address (a token
// bucket; beyond it requests are dropped), the playback ids (only those
// this edge served recently are counted, so beacons cannot invent streams
// or skew another org's figures) and the cells kept per minute. Viewers
// are counted by a daily keyed hash of address and user agent; no address
// is kept.
//
// It deliberately knows nothing of the control plane or of QUIC: which
// stream or asset a playback id belongs to is asked of the caller when the
// minute is taken, and shipping is the caller's business.
package beacon
