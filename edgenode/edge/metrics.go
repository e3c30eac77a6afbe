package edge

// Prometheus metrics at /metrics: one registry per node (two nodes in one
// process never share series). Most values are read when scraped, from the
// counters the node keeps anyway (viewers, egress, the relay's, the upload
// queue's, the job loop's, ffmpeg's progress); only requests by kind are
// counted here, as the HLS origin answers them.

import (
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/livestreams/livestreams/edgenode/hls"
)

// metrics are the edge's Prometheus series.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	handler  http.Handler
}

func newMetrics(n *Node) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &metrics{reg: reg, handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "livestreams_edge_hls_requests_total",
		Help: "HLS requests answered (to viewers and to relaying edges), by kind of object and status class.",
	}, []string{"kind", "code"})
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "livestreams_edge_hls_sent_bytes_total",
		Help: "Bytes of HLS answers sent, by kind of object.",
	}, []string{"kind"})
	reg.MustRegister(m.requests, m.bytes, nodeCollector{n})
	return m
}

// served counts one finished HLS request; w is the writer beacons.watch
// wrapped.
func (m *metrics) served(r *http.Request, rw http.ResponseWriter) {
	w, ok := rw.(*servedWriter)
	if !ok {
		return
	}
	code := w.status
	if code == 0 {
		code = http.StatusOK
	}
	kind := objectKind(r.URL.Path)
	m.requests.WithLabelValues(kind, strconv.Itoa(code/100)+"xx").Inc()
	m.bytes.WithLabelValues(kind).Add(float64(w.bytes))
}

// objectKind names what an HLS path asks for, from a fixed set (paths
// never become labels).
func objectKind(p string) string {
	_, name, _, ok := hls.SplitPath(p)
	if !ok {
		return "other"
	}
	base := path.Base(name)
	switch ext := path.Ext(base); {
	case base == "master.m3u8":
		return "master"
	case ext == ".m3u8":
		return "playlist"
	case ext == ".m4s" && strings.HasPrefix(base, "part_"):
		return "part" // an LL-HLS part (edgenode/llhls)
	case ext == ".m4s" || ext == ".ts":
		return "segment"
	case ext == ".mp4" && strings.HasPrefix(base, "init"):
		return "init"
	case ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp":
		return "thumbnail"
	case ext == ".vtt":
		return "captions"
	}
	return "other"
}

// nodeCollector reads the node's state when scraped.
type nodeCollector struct{ n *Node }

var (
	descViewers = prometheus.NewDesc("livestreams_edge_viewers",
		"HLS requests being answered now (viewers and relaying edges downloading).", nil, nil)
	descEgress = prometheus.NewDesc("livestreams_edge_egress_bytes_total",
		"Bytes sent by the HLS origin since the edge started.", nil, nil)
	descSessions = prometheus.NewDesc("livestreams_edge_live_sessions",
		"Publishes authorized and not yet ended on this edge.", nil, nil)
	descTranscodes = prometheus.NewDesc("livestreams_edge_transcodes",
		"Live sessions whose ffmpeg ladder is running.", nil, nil)
	descSpeed = prometheus.NewDesc("livestreams_edge_ffmpeg_speed",
		"ffmpeg's speed of a live session's ladder (1 = real time; below 1 it falls behind).", []string{"session_id"}, nil)
	descRelayHits = prometheus.NewDesc("livestreams_edge_relay_hits_total",
		"Relayed objects answered from this edge's cache.", nil, nil)
	descRelayMisses = prometheus.NewDesc("livestreams_edge_relay_misses_total",
		"Relayed objects fetched from the origin edge (one request however many viewers wait).", nil, nil)
	descRelayCoalesced = prometheus.NewDesc("livestreams_edge_relay_coalesced_waits_total",
		"Relayed requests that waited for a fetch already in flight instead of asking the origin again.", nil, nil)
	descRelayErrors = prometheus.NewDesc("livestreams_edge_relay_upstream_errors_total",
		"Fetches from origin edges that failed.", nil, nil)
	descRelayEvictions = prometheus.NewDesc("livestreams_edge_relay_evictions_total",
		"Objects evicted from the relay cache to stay within its size.", nil, nil)
	descRelayBytes = prometheus.NewDesc("livestreams_edge_relay_cache_bytes",
		"Size of the objects in the relay cache.", nil, nil)
	descUploadItems = prometheus.NewDesc("livestreams_edge_upload_queue_items",
		"Recordings in the durable upload queue, by state.", []string{"state"}, nil)
	descUploadBytes = prometheus.NewDesc("livestreams_edge_upload_queue_bytes",
		"Size of the recordings waiting for upload or uploading.", nil, nil)
	descUploadOldest = prometheus.NewDesc("livestreams_edge_upload_queue_oldest_age_seconds",
		"How long the oldest recording waiting for upload has waited (0 when none waits).", nil, nil)
	descUploadDone = prometheus.NewDesc("livestreams_edge_uploads_done_total",
		"Recordings uploaded and registered from this edge's queue.", nil, nil)
	descJobSlots = prometheus.NewDesc("livestreams_edge_job_slots",
		"Media-job slots of this edge (total) and those running a job (busy).", []string{"state"}, nil)
)

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descViewers, descEgress, descSessions, descTranscodes, descSpeed,
		descRelayHits, descRelayMisses, descRelayCoalesced, descRelayErrors, descRelayEvictions, descRelayBytes,
		descUploadItems, descUploadBytes, descUploadOldest, descUploadDone, descJobSlots} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(descViewers, float64(n.viewers.Load()))
	counter(descEgress, float64(n.egress.Load()))
	n.mu.Lock()
	sessions := len(n.sessions)
	n.mu.Unlock()
	gauge(descSessions, float64(sessions))
	transcodes := n.core.Transcodes()
	gauge(descTranscodes, float64(len(transcodes)))
	for _, t := range transcodes {
		gauge(descSpeed, t.Progress.Speed, t.SessionID)
	}
	if n.relay != nil {
		st := n.relay.cache.Stats()
		counter(descRelayHits, float64(st.Hits))
		counter(descRelayMisses, float64(st.UpstreamRequests))
		counter(descRelayCoalesced, float64(st.CoalescedWaits))
		counter(descRelayErrors, float64(st.UpstreamErrors))
		counter(descRelayEvictions, float64(st.Evictions))
		gauge(descRelayBytes, float64(st.Bytes))
	}
	if n.uploads != nil {
		st := n.uploads.Stats()
		gauge(descUploadItems, float64(st.Pending), "pending")
		gauge(descUploadItems, float64(st.Uploading), "uploading")
		gauge(descUploadItems, float64(st.Lost), "lost")
		gauge(descUploadBytes, float64(st.BytesPending))
		gauge(descUploadOldest, st.OldestPendingAge.Seconds())
		counter(descUploadDone, float64(st.Done))
	}
	if n.jobs != nil {
		busy, total := n.jobs.slots()
		gauge(descJobSlots, float64(total), "total")
		gauge(descJobSlots, float64(busy), "busy")
	}
}
