package api

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fleet"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/testutil"
)

// sdpOffer stands for a browser's offer; the fake edge does not parse it.
const sdpOffer = sdp("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n")

// fakeWHIPEdge is an edge's WHIP endpoint as package whip serves it: POST
// /whip/… with the key as bearer and an SDP offer → 201, an answer and a
// Location /whip/resource/ID; DELETE there → 200; PATCH → 405.
type fakeWHIPEdge struct {
	srv *httptest.Server
	key string

	mu     sync.Mutex
	calls  []string // "METHOD path"
	offers []string
	refuse int // answer POSTs with this status when not zero
}

func newFakeWHIPEdge(t *testing.T, key string) *fakeWHIPEdge {
	f := &fakeWHIPEdge{key: key}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWHIPEdge) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer "+f.key {
		http.Error(w, "publish refused: unknown stream key", http.StatusForbidden)
		return
	}
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/whip/") && !strings.Contains(r.URL.Path, "/resource/"):
		if f.refuse != 0 {
			http.Error(w, "publish refused: stream is already live (key "+f.key+")", f.refuse)
			return
		}
		if r.Header.Get("Content-Type") != "application/sdp" {
			http.Error(w, "the offer must be sent as Content-Type: application/sdp", http.StatusUnsupportedMediaType)
			return
		}
		f.offers = append(f.offers, string(body))
		w.Header().Set("Content-Type", "application/sdp")
		w.Header().Set("Location", "/whip/resource/r1")
		w.Header().Set("ETag", `"e1"`)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "v=0\r\ns=answer\r\n")
	case r.URL.Path == "/whip/resource/r1" && r.Method == http.MethodDelete:
		if len(f.offers) == 0 {
			http.Error(w, "no such WHIP session", http.StatusNotFound)
			return
		}
		f.offers = nil
		w.WriteHeader(http.StatusOK)
	case r.URL.Path == "/whip/resource/r1":
		w.Header().Set("Allow", "DELETE, OPTIONS")
		http.Error(w, "this WHIP session supports DELETE only", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeWHIPEdge) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// whipEnv is a one-node cluster routing with a real fleet, one member, and
// one edge registered with the given ingest URLs.
type whipEnv struct {
	*env
	member *rawClient
	sid    string
	key    string
}

func newWHIPEnv(t *testing.T) *whipEnv {
	t.Helper()
	e := newEnv(t, nodeOpts{cfg: func(c *Config) { c.Directory = fleet.New(fleet.Config{Store: c.Node.Store()}) }})
	s := e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "browser"}).json(t)
	return &whipEnv{env: e, member: e.user("member@example.com", e.orgA, "member"), sid: str(s, "id"), key: str(s, "stream_key")}
}

// register records edge-w with a lease of an hour, as an edge's hello does.
func (w *whipEnv) register(e state.Edge) {
	w.t.Helper()
	e.ID, e.LeaseExpiresAt = "edge-w", time.Now().Add(time.Hour)
	if _, err := w.n.node.Apply(testutil.Context(w.t, 10*time.Second), fsm.CmdPutEdge, e); err != nil {
		w.t.Fatal(err)
	}
}

// TestIngestURLs shows, for each protocol the nearest edge offers and only
// those, what an encoder needs, keys and streamids encoded.
func TestIngestURLs(t *testing.T) {
	t.Parallel()
	w := newWHIPEnv(t)
	w.register(state.Edge{RTMPURL: "rtmp://edge-w.test:1935/live", HLSURL: "http://edge-w.test:8081"})
	path := "/v1/streams/" + w.sid + "/ingest"
	m := w.member.must(200, "GET", path, nil).json(t)
	want := map[string]any{"edge_id": "edge-w", "stream_key": w.key, "rtmp_url": "rtmp://edge-w.test:1935/live/" + w.key,
		"rtmp_server": "rtmp://edge-w.test:1935/live"}
	if len(m) != len(want) {
		t.Errorf("RTMP-only edge: answer %v, want exactly %v", m, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("RTMP-only edge: %s = %v, want %v", k, m[k], v)
		}
	}

	w.register(state.Edge{RTMPURL: "rtmp://edge-w.test:1935/live/", RTMPSURL: "rtmps://edge-w.test:1936/live",
		SRTURL: "srt://edge-w.test:8890", WHIPURL: "https://edge-w.test/whip/", HLSURL: "http://edge-w.test:8081"})
	in, err := w.member.typed().Streams().Ingest(testutil.Context(t, 10*time.Second), w.sid, "")
	if err != nil {
		t.Fatal(err)
	}
	streamID := "#!::r=live/" + w.key + ",m=publish"
	wantIn := client.Ingest{EdgeID: "edge-w", StreamKey: w.key,
		RTMPURL: "rtmp://edge-w.test:1935/live/" + w.key, RTMPServer: "rtmp://edge-w.test:1935/live",
		RTMPSURL: "rtmps://edge-w.test:1936/live/" + w.key, RTMPSServer: "rtmps://edge-w.test:1936/live",
		SRTURL:      "srt://edge-w.test:8890?streamid=%23%21%3A%3Ar%3Dlive%2F" + w.key + "%2Cm%3Dpublish",
		SRTStreamID: streamID, WHIPURL: "https://edge-w.test/whip/" + w.sid}
	if in != wantIn {
		t.Errorf("every protocol:\n got %+v\nwant %+v", in, wantIn)
	}
	u, err := url.Parse(in.SRTURL)
	if err != nil || u.Query().Get("streamid") != streamID {
		t.Errorf("srt_url %q does not decode to the streamid %q: %v", in.SRTURL, streamID, err)
	}
	if got := srtURL("edge-w.test:8890", "a b"); got != "srt://edge-w.test:8890?streamid=a+b" {
		t.Errorf("host:port SRT base: %q", got)
	}
	// A viewer may not read the key, so not the ingest answer either.
	viewer := w.user("viewer@example.com", w.orgA, "viewer")
	viewer.must(403, "GET", path, nil)
}

// TestWHIPProxy goes live through the control plane's WHIP proxy against
// a fake edge WHIP endpoint registered in a real one-node cluster: the
// offer reaches the edge with the stream key, the answer and a Location
// on the API come back without it, and DELETE and PATCH on that Location
// reach the edge's resource.
func TestWHIPProxy(t *testing.T) {
	t.Parallel()
	w := newWHIPEnv(t)
	offers := w.member.typed().Streams()
	ctx := testutil.Context(t, 30*time.Second)

	// No edge offers WHIP: 503, saying so.
	w.register(state.Edge{RTMPURL: "rtmp://edge-w.test:1935/live", HLSURL: "http://edge-w.test:8081"})
	if a := w.member.do("POST", "/v1/streams/"+w.sid+"/whip", sdpOffer); a.status != 503 || a.code() != "unavailable" ||
		!strings.Contains(string(a.body), "no edge offers whip") {
		t.Fatalf("offer with no WHIP edge: %d %s", a.status, a.body)
	}

	edge := newFakeWHIPEdge(t, w.key)
	w.register(state.Edge{RTMPURL: "rtmp://edge-w.test:1935/live", WHIPURL: edge.srv.URL + "/whip", HLSURL: edge.srv.URL})
	ans, err := offers.WHIP(ctx, w.sid, string(sdpOffer))
	if err != nil {
		t.Fatal(err)
	}
	prefix := "/v1/streams/" + w.sid + "/whip/"
	if ans.SDP != "v=0\r\ns=answer\r\n" || !strings.HasPrefix(ans.Location, prefix) || ans.ETag != `"e1"` {
		t.Fatalf("answer %+v", ans)
	}
	if got := edge.seen(); len(got) != 1 || got[0] != "POST /whip/"+w.sid || len(edge.offers) != 1 || edge.offers[0] != string(sdpOffer) {
		t.Fatalf("the edge saw %v with offers %q", got, edge.offers)
	}
	if strings.Contains(ans.Location+ans.SDP+ans.ETag, w.key) {
		t.Fatal("the proxy's answer holds the stream key")
	}

	// PATCH reaches the edge's resource; its 405 keeps the API's shape.
	if a := w.member.do("PATCH", ans.Location, "a=candidate:1", "Content-Type", "application/trickle-ice-sdpfrag"); a.status != 400 ||
		a.code() != "invalid" || !strings.Contains(string(a.body), "405") {
		t.Errorf("PATCH: %d %s", a.status, a.body)
	}
	// The edge's resource, and nothing else, is reached by DELETE.
	if err := offers.EndWHIP(ctx, ans.Location); err != nil {
		t.Fatal(err)
	}
	if a := w.member.do("DELETE", ans.Location, nil); a.status != 404 || a.code() != "not_found" {
		t.Errorf("second DELETE: %d %s", a.status, a.body)
	}
	if got := edge.seen(); strings.Join(got[1:], ",") != "PATCH /whip/resource/r1,DELETE /whip/resource/r1,DELETE /whip/resource/r1" {
		t.Errorf("the edge saw %v", got)
	}
	calls := len(edge.seen())
	for _, forged := range []string{"edge-w\n/elsewhere", "edge-w\n/whip/../metrics", "edge-w\nhttp://evil.test/whip/x", "edge-x\n/whip/resource/r1", "edge-w", "%%%"} {
		res := base64.RawURLEncoding.EncodeToString([]byte(forged))
		if forged == "%%%" {
			res = forged
		}
		if a := w.member.do("DELETE", prefix+url.PathEscape(res), nil); a.status != 404 {
			t.Errorf("forged resource %q: %d %s", forged, a.status, a.body)
		}
	}
	if len(edge.seen()) != calls {
		t.Errorf("forged resources reached the edge: %v", edge.seen()[calls:])
	}

	// Refusals: the edge's, mapped; the API's own, before any edge call.
	edge.mu.Lock()
	edge.refuse = http.StatusConflict
	edge.mu.Unlock()
	a := w.member.do("POST", "/v1/streams/"+w.sid+"/whip", sdpOffer)
	if a.status != 409 || a.code() != "conflict" || !strings.Contains(string(a.body), "already live") || strings.Contains(string(a.body), w.key) {
		t.Errorf("edge refusal: %d %s", a.status, a.body)
	}
	calls = len(edge.seen())
	for _, c := range []struct {
		body   any
		status int
		code   string
	}{
		{sdp(strings.Repeat("a", maxSDPBody+1)), 413, "too_large"},
		{string(sdpOffer), 400, "invalid"}, // sent as JSON
		{sdp(" \r\n"), 400, "invalid"},
	} {
		if a := w.member.do("POST", "/v1/streams/"+w.sid+"/whip", c.body); a.status != c.status || a.code() != c.code {
			t.Errorf("offer %.20q: %d %s, want %d %s", c.body, a.status, a.body, c.status, c.code)
		}
	}
	if a := w.member.do("POST", "/v1/streams/str_nosuch/whip", sdpOffer); a.status != 404 {
		t.Errorf("offer for an unknown stream: %d %s", a.status, a.body)
	}
	if len(edge.seen()) != calls {
		t.Errorf("refused offers reached the edge: %v", edge.seen()[calls:])
	}

	// The edge is gone: 503.
	edge.srv.Close()
	if a := w.member.do("POST", "/v1/streams/"+w.sid+"/whip", sdpOffer); a.status != 503 || a.code() != "unavailable" {
		t.Errorf("edge down: %d %s", a.status, a.body)
	}
	checkNoSecrets(t, w.rec)
}

// TestOpenAPIDocumentsSDP holds the WHIP route's document to its media
// type.
func TestOpenAPIDocumentsSDP(t *testing.T) {
	t.Parallel()
	raw, _ := json.Marshal(buildOpenAPI())
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]any `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]any `json:"content"`
				Headers map[string]any `json:"headers"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	op := doc.Paths["/v1/streams/{id}/whip"]["post"]
	if op.RequestBody.Content["application/sdp"] == nil || op.Responses["201"].Content["application/sdp"] == nil ||
		op.Responses["201"].Headers["Location"] == nil {
		t.Errorf("POST /v1/streams/{id}/whip is documented as %+v", op)
	}
}
