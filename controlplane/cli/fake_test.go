package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
)

// testNow is the clock of every test run, so relative times are stable.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	adminKey  = "lsk_admin_secret"
	viewerKey = "lsk_viewer_secret"
	setupTok  = "lst_setup"
	liveKey   = "sk_live_secret"
)

// recorded is one request the fake received.
type recorded struct {
	Method, Path, Query string // Path as sent, still escaped
	Header              http.Header
	Body                []byte
}

// JSON decodes the recorded body as a JSON object.
func (r recorded) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", r.Method, r.Path, r.Body, err)
	}
	return m
}

type principal struct {
	org          string
	role         string
	clusterAdmin bool
}

// fakeAPI is an in-memory control plane that serves the routes of
// docs/api.md closely enough for the CLI: the documented shapes, codes,
// auth and org scoping. It records every request.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	reqs     []recorded
	tokens   map[string]principal
	orgs     []client.Org
	members  map[string][]client.Member
	streams  []client.Stream
	sessions map[string][]client.Session
	apiKeys  []client.APIKey
	sigKeys  []client.SigningKey
	assets   []client.Asset
	jobs     []client.Job
	snapshot []byte
	restored []byte
	seq      int
}

func newFake(t *testing.T) *fakeAPI {
	f := &fakeAPI{
		t: t,
		tokens: map[string]principal{
			adminKey:  {org: "org_1", role: "owner", clusterAdmin: true},
			viewerKey: {org: "org_1", role: "viewer"},
		},
		members:  map[string][]client.Member{},
		sessions: map[string][]client.Session{},
		snapshot: bytes.Repeat([]byte("snapshot-data-"), 1000),
	}
	f.orgs = []client.Org{
		{ID: "org_1", Name: "Acme", CreatedAt: ago(72 * time.Hour)},
		{ID: "org_2", Name: "Other", CreatedAt: ago(time.Hour)},
	}
	f.members["org_1"] = []client.Member{
		{UserID: "usr_1", Email: "ann@example.com", Name: "Ann", Role: "owner", CreatedAt: ago(72 * time.Hour)},
	}
	session := client.Session{ID: "ses_2", StreamID: "str_1", EdgeID: "edge-a", Protocol: "rtmp", RemoteAddr: "198.51.100.7:50312", StartedAt: ago(3 * time.Minute),
		Source: &client.Source{Width: 1920, Height: 1080, FPS: 30, HasAudio: true, HasVideo: true, VideoCodec: "h264", AudioCodec: "aac"}}
	f.streams = []client.Stream{
		f.streamView("str_1", "org_1", "Main stage", "active", &session, ago(48*time.Hour)),
		f.streamView("str_2", "org_1", "Backstage", "idle", nil, ago(5*time.Minute)),
		f.streamView("str_9", "org_2", "Not yours", "idle", nil, ago(time.Hour)),
	}
	f.sessions["str_1"] = []client.Session{session,
		{ID: "ses_1", StreamID: "str_1", EdgeID: "edge-b", Protocol: "srt", RemoteAddr: "[2001:db8::1]:4000",
			StartedAt: ago(2 * time.Hour), EndedAt: agoP(90 * time.Minute), EndReason: "publisher_closed"}}
	f.apiKeys = []client.APIKey{
		{ID: "key_1", Name: "ci", Prefix: "lsk_ci12", Role: "member", OrgID: "org_1", CreatedBy: "usr_1",
			CreatedAt: ago(24 * time.Hour), LastUsedAt: agoP(10 * time.Second)},
	}
	f.sigKeys = []client.SigningKey{
		{ID: "sig_1", PublicPEM: "-----BEGIN PUBLIC KEY-----\nAAA\n-----END PUBLIC KEY-----\n", CreatedAt: ago(time.Hour), CanMint: true},
	}

	f.mediaFixtures()
	mux := http.NewServeMux()
	f.routes(mux)
	f.mediaRoutes(mux)
	f.inviteRoutes(mux)
	f.srv = httptest.NewServer(f.record(mux))
	t.Cleanup(f.srv.Close)
	return f
}

// ago is testNow less d; agoP the same as a pointer.
func ago(d time.Duration) time.Time { return testNow.Add(-d) }

func agoP(d time.Duration) *time.Time {
	t := ago(d)
	return &t
}

func (f *fakeAPI) streamView(id, org, name, status string, session *client.Session, created time.Time) client.Stream {
	return client.Stream{ID: id, OrgID: org, Name: name, PlaybackID: "pb_" + id, PlaybackPolicy: "public", Recording: true,
		LatencyMode: "standard", Status: status, CurrentSession: session, IngestURL: "rtmp://edge-a:1935/live",
		PlaybackURL: "http://cp/v1/play/pb_" + id + ".m3u8", CreatedAt: created, UpdatedAt: created}
}

// requests returns what the fake received so far.
func (f *fakeAPI) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// last returns the last request received; it fails the test if none was.
func (f *fakeAPI) last() recorded {
	f.t.Helper()
	reqs := f.requests()
	if len(reqs) == 0 {
		f.t.Fatal("the fake API received no request")
	}
	return reqs[len(reqs)-1]
}

func (f *fakeAPI) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		f.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b client.ErrorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

// list answers the items of a collection, never null.
func list[T any](w http.ResponseWriter, items []T) {
	if items == nil {
		items = []T{}
	}
	writeJSON(w, 200, client.List[T]{Items: items})
}

var roleRank = map[string]int{"viewer": 1, "member": 2, "admin": 3, "owner": 4}

// auth wraps a handler with the documented authentication: a bearer token
// the fake knows, at least role in its org, cluster admin when asked.
func (f *fakeAPI) auth(role string, clusterAdmin bool, h func(http.ResponseWriter, *http.Request, principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		p, known := f.tokens[tok]
		f.mu.Unlock()
		if !ok || !known {
			writeError(w, 401, "unauthorized", "authentication required")
			return
		}
		if org := r.Header.Get("X-Livestreams-Org"); org != "" && strings.HasPrefix(tok, "jwt_") {
			p.org = org
		}
		if roleRank[p.role] < roleRank[role] || (clusterAdmin && !p.clusterAdmin) {
			writeError(w, 403, "forbidden", "not allowed")
			return
		}
		h(w, r, p)
	}
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, 400, "invalid", "malformed JSON: "+err.Error())
		return false
	}
	return true
}

func (f *fakeAPI) nextID(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s_new%d", prefix, f.seq)
}

func (f *fakeAPI) routes(mux *http.ServeMux) {
	now := testNow

	mux.HandleFunc("POST /v1/auth/signup", func(w http.ResponseWriter, r *http.Request) {
		var in client.Signup
		if !decode(w, r, &in) {
			return
		}
		if in.SetupToken != setupTok {
			writeError(w, 403, "forbidden", "signup is disabled")
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		org := client.Org{ID: "org_boot", Name: in.OrgName, CreatedAt: now}
		f.orgs = append(f.orgs, org)
		f.tokens["jwt_boot"] = principal{org: "org_boot", role: "owner", clusterAdmin: true}
		writeJSON(w, 201, client.SignupResult{User: client.User{ID: "usr_boot", Email: in.Email, Name: in.Name, Admin: true, CreatedAt: now},
			Org: org, Token: "jwt_boot"})
	})
	mux.HandleFunc("POST /v1/auth/login", func(w http.ResponseWriter, r *http.Request) {
		var in client.Login
		if !decode(w, r, &in) {
			return
		}
		if in.Email != "ann@example.com" || in.Password != "hunter2" {
			writeError(w, 401, "unauthorized", "wrong email or password")
			return
		}
		f.mu.Lock()
		f.tokens["jwt_ann"] = principal{org: "org_1", role: "owner", clusterAdmin: true}
		f.mu.Unlock()
		writeJSON(w, 200, client.LoginResult{Token: "jwt_ann", ExpiresAt: testNow.Add(15 * time.Minute),
			User: client.User{ID: "usr_1", Email: "ann@example.com"}})
	})

	mux.HandleFunc("GET /v1/orgs", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		list(w, f.orgs)
	}))
	mux.HandleFunc("POST /v1/orgs", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		var in client.OrgCreate
		if !decode(w, r, &in) {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		o := client.Org{ID: f.nextID("org"), Name: in.Name, CreatedAt: now}
		f.orgs = append(f.orgs, o)
		writeJSON(w, 201, o)
	}))
	mux.HandleFunc("DELETE /v1/orgs/{org}", f.auth("owner", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		if r.PathValue("org") != p.org {
			writeError(w, 404, "not_found", "org not found")
			return
		}
		w.WriteHeader(204)
	}))
	mux.HandleFunc("GET /v1/orgs/{org}/members", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		m, ok := f.members[r.PathValue("org")]
		if !ok {
			writeError(w, 404, "not_found", "org not found")
			return
		}
		list(w, m)
	}))
	mux.HandleFunc("POST /v1/users", f.auth("viewer", true, func(w http.ResponseWriter, r *http.Request, p principal) {
		var in client.UserCreate
		if !decode(w, r, &in) {
			return
		}
		writeJSON(w, 201, client.User{ID: "usr_new", Email: in.Email, Name: in.Name, CreatedAt: now})
	}))

	mux.HandleFunc("GET /v1/api-keys", f.auth("admin", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		list(w, f.apiKeys)
	}))
	mux.HandleFunc("POST /v1/api-keys", f.auth("admin", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		var in client.APIKeyCreate
		if !decode(w, r, &in) {
			return
		}
		if in.Name == "" {
			writeError(w, 400, "invalid", "name is required")
			return
		}
		if in.Role == "" {
			in.Role = "member"
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		id := f.nextID("key")
		key := "lsk_" + id + "_secret"
		f.tokens[key] = principal{org: p.org, role: in.Role, clusterAdmin: in.ClusterAdmin}
		writeJSON(w, 201, client.APIKeyCreated{APIKey: client.APIKey{ID: id, Name: in.Name, Prefix: key[:8], Role: in.Role, OrgID: p.org,
			ClusterAdmin: in.ClusterAdmin, CreatedAt: now}, Key: key})
	}))
	mux.HandleFunc("DELETE /v1/api-keys/{id}", f.auth("admin", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		w.WriteHeader(204)
	}))

	mux.HandleFunc("GET /v1/streams", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var items []client.Stream
		for _, s := range f.streams {
			if s.OrgID == p.org {
				items = append(items, s)
			}
		}
		list(w, items)
	}))
	mux.HandleFunc("POST /v1/streams", f.auth("member", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		var in client.StreamCreate
		if !decode(w, r, &in) {
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		s := f.streamView(f.nextID("str"), p.org, in.Name, "idle", nil, now)
		if in.PlaybackPolicy != "" {
			s.PlaybackPolicy = in.PlaybackPolicy
		}
		if in.Recording != nil {
			s.Recording = *in.Recording
		}
		if in.LatencyMode != "" {
			s.LatencyMode = in.LatencyMode
		}
		f.streams = append(f.streams, s)
		writeJSON(w, 201, client.StreamCreated{Stream: s, StreamKey: liveKey})
	}))
	mux.HandleFunc("GET /v1/streams/{id}", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if i, ok := find(w, r, p, f.streams, "stream", streamRef); ok {
			writeJSON(w, 200, f.streams[i])
		}
	}))
	mux.HandleFunc("DELETE /v1/streams/{id}", f.auth("admin", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if i, ok := find(w, r, p, f.streams, "stream", streamRef); ok {
			f.streams = append(f.streams[:i], f.streams[i+1:]...)
			w.WriteHeader(204)
		}
	}))
	mux.HandleFunc("GET /v1/streams/{id}/key", f.auth("member", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := find(w, r, p, f.streams, "stream", streamRef); ok {
			writeJSON(w, 200, client.StreamKey{StreamKey: liveKey})
		}
	}))
	mux.HandleFunc("GET /v1/streams/{id}/ingest", f.auth("member", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := find(w, r, p, f.streams, "stream", streamRef); ok {
			writeJSON(w, 200, client.Ingest{EdgeID: "edge-a", StreamKey: liveKey,
				RTMPURL: "rtmp://edge-a:1935/live/" + liveKey, RTMPServer: "rtmp://edge-a:1935/live",
				SRTURL: "srt://edge-a:8890?streamid=%23%21%3A%3Ar%3Dlive%2F" + liveKey + "%2Cm%3Dpublish", SRTStreamID: "#!::r=live/" + liveKey + ",m=publish"})
		}
	}))
	mux.HandleFunc("POST /v1/streams/{id}/reset-key", f.auth("member", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := find(w, r, p, f.streams, "stream", streamRef); ok {
			writeJSON(w, 200, client.StreamKey{StreamKey: "sk_fresh_secret"})
		}
	}))
	mux.HandleFunc("GET /v1/streams/{id}/sessions", f.auth("viewer", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := find(w, r, p, f.streams, "stream", streamRef); ok {
			list(w, f.sessions[r.PathValue("id")])
		}
	}))

	mux.HandleFunc("GET /v1/signing-keys", f.auth("admin", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		f.mu.Lock()
		defer f.mu.Unlock()
		list(w, f.sigKeys)
	}))
	mux.HandleFunc("POST /v1/signing-keys", f.auth("admin", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		var in client.SigningKeyCreate
		if !decode(w, r, &in) {
			return
		}
		writeJSON(w, 201, client.SigningKeyCreated{SigningKey: client.SigningKey{ID: "sig_new", CreatedAt: now,
			PublicPEM: "-----BEGIN PUBLIC KEY-----\nPUB\n-----END PUBLIC KEY-----\n"},
			PrivatePEM: "-----BEGIN PRIVATE KEY-----\nPRIV\n-----END PRIVATE KEY-----\n"})
	}))
	mux.HandleFunc("DELETE /v1/signing-keys/{id}", f.auth("admin", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		w.WriteHeader(204)
	}))
	mux.HandleFunc("POST /v1/signing-keys/{id}/tokens", f.auth("member", false, func(w http.ResponseWriter, r *http.Request, p principal) {
		var in client.TokenMint
		if !decode(w, r, &in) {
			return
		}
		if r.PathValue("id") != "sig_1" {
			writeError(w, 404, "not_found", "signing key not found")
			return
		}
		ttl := time.Hour
		if in.TTLSeconds != nil {
			ttl = time.Duration(*in.TTLSeconds) * time.Second
		}
		writeJSON(w, 200, client.Token{Token: "tok.for." + in.PlaybackID, ExpiresAt: testNow.Add(ttl)})
	}))

	mux.HandleFunc("GET /v1/cluster", f.auth("viewer", true, func(w http.ResponseWriter, r *http.Request, p principal) {
		writeJSON(w, 200, client.ClusterStatus{ClusterID: "cls_1", LeaderID: "cp1", Term: 7, LastIndex: 1234,
			AppliedIndex: 1234, CommitIndex: 1234, LastSnapshotIndex: 1024,
			Nodes: []client.ClusterNode{
				{ID: "cp1", RaftAddr: "10.0.0.1:7000", HTTPAddr: "http://10.0.0.1:8080", State: "leader", Voter: true, Healthy: true},
				{ID: "cp2", RaftAddr: "10.0.0.2:7000", HTTPAddr: "http://10.0.0.2:8080", State: "follower", Voter: true, Healthy: false},
			}})
	}))
	mux.HandleFunc("POST /v1/cluster/members", f.auth("viewer", true, func(w http.ResponseWriter, r *http.Request, p principal) {
		var in client.ClusterMember
		if !decode(w, r, &in) {
			return
		}
		writeJSON(w, 200, in)
	}))
	mux.HandleFunc("DELETE /v1/cluster/members/{id}", f.auth("viewer", true, func(w http.ResponseWriter, r *http.Request, p principal) {
		w.WriteHeader(204)
	}))
	mux.HandleFunc("POST /v1/cluster/join-tokens", f.auth("viewer", true, func(w http.ResponseWriter, r *http.Request, p principal) {
		var in client.JoinTokenCreate
		if !decode(w, r, &in) {
			return
		}
		writeJSON(w, 201, client.JoinToken{Token: "ljt_join_token"})
	}))
	mux.HandleFunc("GET /v1/cluster/join-tokens", f.auth("viewer", true, func(w http.ResponseWriter, r *http.Request, p principal) {
		writeJSON(w, 200, client.List[client.JoinTokenInfo]{Items: []client.JoinTokenInfo{
			{ID: "a1b2c3d4e5f60718", Description: "edge fra1", State: "used", CreatedAt: ago(2 * time.Hour), ExpiresAt: ago(time.Hour), UsedBy: "fra1"},
			{ID: "0011223344556677", State: "usable", CreatedAt: ago(time.Minute), ExpiresAt: testNow.Add(59 * time.Minute)},
		}})
	}))
	mux.HandleFunc("DELETE /v1/cluster/join-tokens/{id}", f.auth("viewer", true, func(w http.ResponseWriter, r *http.Request, p principal) {
		w.WriteHeader(204)
	}))
	caStatus := func(rotating bool) client.CAStatus {
		st := client.CAStatus{CAs: []client.ClusterCA{{Fingerprint: "ab12", Subject: "Livestreams cluster CA cls_1", Role: "current", NotAfter: testNow.Add(24 * time.Hour * 3650)}}, Pending: []string{}}
		if rotating {
			st.Rotating, st.Pending = true, []string{"fra1"}
			st.CAs = append(st.CAs, client.ClusterCA{Fingerprint: "cd34", Subject: "Livestreams cluster CA cls_1", Role: "retiring"})
		}
		return st
	}
	mux.HandleFunc("GET /v1/cluster/ca", f.auth("viewer", true, func(w http.ResponseWriter, r *http.Request, p principal) {
		writeJSON(w, 200, caStatus(false))
	}))
	mux.HandleFunc("POST /v1/cluster/ca/rotate", f.auth("viewer", true, func(w http.ResponseWriter, r *http.Request, p principal) {
		var in client.CARotate
		if !decode(w, r, &in) {
			return
		}
		writeJSON(w, 200, caStatus(true))
	}))
	mux.HandleFunc("POST /v1/cluster/ca/finish", f.auth("viewer", true, func(w http.ResponseWriter, r *http.Request, p principal) {
		var in client.CAFinish
		if !decode(w, r, &in) {
			return
		}
		writeJSON(w, 200, caStatus(false))
	}))
	mux.HandleFunc("DELETE /v1/nodes/{id}", f.auth("viewer", true, func(w http.ResponseWriter, r *http.Request, p principal) {
		w.WriteHeader(204)
	}))
	mux.HandleFunc("GET /v1/cluster/snapshot", f.auth("viewer", true, func(w http.ResponseWriter, r *http.Request, p principal) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(f.snapshot)
	}))
	mux.HandleFunc("POST /v1/cluster/restore", f.auth("viewer", true, func(w http.ResponseWriter, r *http.Request, p principal) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.restored = body
		f.mu.Unlock()
		w.WriteHeader(204)
	}))
}

// result is what one CLI run produced.
type result struct {
	code           int
	stdout, stderr string
}

// runOpts varies a test run: extra environment (an empty value unsets a
// variable), stdin, the request timeout.
type runOpts struct {
	env     map[string]string
	stdin   string
	timeout time.Duration
}

// run runs the CLI against f with LIVESTREAMS_ADDR and LIVESTREAMS_TOKEN
// (the admin key) set, unless opts say otherwise.
func (f *fakeAPI) run(t *testing.T, opts runOpts, args ...string) result {
	t.Helper()
	vars := map[string]string{"LIVESTREAMS_ADDR": f.srv.URL, "LIVESTREAMS_TOKEN": adminKey}
	for k, v := range opts.env {
		vars[k] = v
	}
	return runWith(t, vars, opts, args...)
}

// runWith runs the CLI with exactly the environment vars.
func runWith(t *testing.T, vars map[string]string, opts runOpts, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	timeout := opts.timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	e := &env{stdout: &stdout, stderr: &stderr, stdin: strings.NewReader(opts.stdin),
		getenv: func(k string) string { return vars[k] }, now: func() time.Time { return testNow }, timeout: timeout}
	code := e.run(context.Background(), args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}
