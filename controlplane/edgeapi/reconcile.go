package edgeapi

import (
	"sync"
	"time"
)

// missing remembers, per session, when an edge's heartbeat first left out
// a session the state still holds open. One heartbeat alone closes
// nothing: it may have been sent between the session's end on the edge
// and the arrival of the edge's session_ended report, which must be the
// one to say why the session ended (unpublished, not edge_restarted).
// Only a session still missing a grace later is closed as lost.
type missing struct {
	mu    sync.Mutex
	since map[string]missingSession
}

// forgetMissing bounds how long a record of an edge that stopped calling
// is kept.
const forgetMissing = time.Hour

type missingSession struct {
	edge string
	at   time.Time
}

// stale records that edge left out the sessions in absent at now, forgets
// what it recorded for that edge's other sessions, and returns the
// sessions missing for at least grace.
func (m *missing) stale(edge string, absent []string, now time.Time, grace time.Duration) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.since == nil {
		m.since = map[string]missingSession{}
	}
	now = now.UTC()
	in := make(map[string]bool, len(absent))
	var out []string
	for _, id := range absent {
		in[id] = true
		first, seen := m.since[id]
		switch {
		case !seen:
			m.since[id] = missingSession{edge: edge, at: now}
		case now.Sub(first.at) >= grace:
			out = append(out, id)
			delete(m.since, id)
		}
	}
	for id, s := range m.since {
		// Forget what the edge reports again, and anything so old its
		// edge stopped calling (its lease closed the session).
		if s.edge == edge && !in[id] || now.Sub(s.at) > forgetMissing {
			delete(m.since, id)
		}
	}
	return out
}
