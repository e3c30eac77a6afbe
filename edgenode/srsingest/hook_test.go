package srsingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/live"
	"github.com/livestreams/livestreams/edgenode/live/livetest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// The bodies in testdata are SRS's own, from its HTTP callback
// documentation (ossrs.io, docs v7 "HTTP Callback"): on_publish.json is the
// "Protocol" section's body verbatim; on_publish_vhost.json,
// on_unpublish_vhost.json and on_hls.json the bodies documented in the
// http_hooks configuration; on_publish_srs4.json the SRS 3/4 form with a
// numeric client_id. on_unpublish.json is on_publish.json with the action
// SRS sends when that publisher stops. The others are SRS 6/7 bodies (with
// service_id) for the cases the documentation has no example of: a
// refused key, a key in the URL's query, another application.

const testSecret = "hook-secret-0123456789abcdef"

// recordingCore is the live core with its publish requests recorded.
type recordingCore struct {
	*live.Core
	mu   sync.Mutex
	reqs []live.PublishRequest
}

func (c *recordingCore) Publish(ctx context.Context, req live.PublishRequest) (*live.Session, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, req)
	c.mu.Unlock()
	return c.Core.Publish(ctx, req)
}

func (c *recordingCore) last() live.PublishRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reqs[len(c.reqs)-1]
}

// startServer runs a Server on a livetest core until the test ends; its
// logs are returned for checks.
func startServer(t *testing.T, cfg Config) (*Server, *livetest.Control, *recordingCore, *testutil.SyncBuffer) {
	t.Helper()
	ctl := &livetest.Control{Dir: t.TempDir(), Record: true}
	core := &recordingCore{Core: livetest.Start(t, live.Config{Control: ctl})}
	logs := &testutil.SyncBuffer{}
	cfg.Core, cfg.Secret = core, testSecret
	cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs, testutil.LogWriter(t, "")), &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, ctl, core, logs
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends one hook and returns the status and the decoded answer.
func post(t *testing.T, h http.Handler, target string, body []byte, header http.Header) (int, answer) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var a answer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("%s: answer %q is not SRS's JSON: %v", target, rec.Body.String(), err)
	}
	if (rec.Code == http.StatusOK) != (a.Code == 0) {
		t.Errorf("%s: status %d with code %d", target, rec.Code, a.Code)
	}
	return rec.Code, a
}

const q = "?secret=" + testSecret

// TestHookContract replays SRS's bodies: allowed publishes answer 200
// {"code":0}; refused ones (key, application, duplicate, secret) 403 with
// a non-zero code; malformed ones 400; on_unpublish ends the session and
// frees the stream; on_hls is accepted.
func TestHookContract(t *testing.T) {
	// No SRS here: a pull finds nothing and, after PullStart, ends its
	// session as no_media. PullStart is long enough for the checks below.
	s, ctl, core, logs := startServer(t, Config{SRSURL: "rtmp://" + testutil.FreeAddr(t), PullStart: time.Minute})

	if code, a := post(t, s, "/srs/hooks/on_publish"+q, fixture(t, "on_publish.json"), nil); code != 200 || a.Code != 0 {
		t.Fatalf("on_publish: %d %+v, want 200 code 0", code, a)
	}
	if req := core.last(); req.Protocol != "srs" || req.App != "live" || req.StreamKey != "livestream" || req.RemoteAddr != "127.0.0.1" {
		t.Errorf("publish request %+v", req)
	}
	// A second publish of the live stream is refused, by our table and by
	// the core's one-publisher-per-key rule (another stream, same key).
	if code, a := post(t, s, "/srs/hooks/on_publish"+q, fixture(t, "on_publish.json"), nil); code != 403 || a.Code == 0 {
		t.Errorf("duplicate on_publish: %d %+v, want 403", code, a)
	}
	other := bytes.Replace(fixture(t, "on_publish_param_key.json"), []byte("?key=sk_param_0123456789"), []byte("?key=livestream"), 1)
	if code, a := post(t, s, "/srs/hooks/on_publish"+q, other, nil); code != 403 || !strings.Contains(a.Msg, "already live") {
		t.Errorf("same key under another name: %d %+v, want 403 already live", code, a)
	}
	// A stale on_unpublish from another client of the stream is ignored.
	stale := bytes.Replace(fixture(t, "on_unpublish.json"), []byte("341w361a"), []byte("00000000"), 1)
	if code, a := post(t, s, "/srs/hooks/on_unpublish"+q, stale, nil); code != 200 || a.Code != 0 {
		t.Errorf("stale on_unpublish: %d %+v", code, a)
	}
	if n := len(ctl.Ends()); n != 0 {
		t.Fatalf("%d sessions ended by a stale on_unpublish", n)
	}
	if code, a := post(t, s, "/srs/hooks/on_unpublish"+q, fixture(t, "on_unpublish.json"), nil); code != 200 || a.Code != 0 {
		t.Errorf("on_unpublish: %d %+v", code, a)
	}
	testutil.Eventually(t, 10*time.Second, "the session to end", func() bool { return len(ctl.Ends()) == 1 })
	// The stream is free again: SRS's publisher can come back.
	testutil.Eventually(t, 5*time.Second, "the stream to be publishable again", func() bool {
		code, _ := post(t, s, "/srs/hooks/on_publish"+q, fixture(t, "on_publish.json"), nil)
		return code == 200
	})
	post(t, s, "/srs/hooks/on_unpublish"+q, fixture(t, "on_unpublish.json"), nil)
	testutil.Eventually(t, 10*time.Second, "the second session to end", func() bool { return len(ctl.Ends()) == 2 })

	// The key in the query wins over the stream name; the rest of the
	// query reaches the core without it.
	if code, a := post(t, s, "/srs/hooks/on_publish"+q, fixture(t, "on_publish_param_key.json"), nil); code != 200 || a.Code != 0 {
		t.Errorf("param key: %d %+v", code, a)
	}
	if req := core.last(); req.StreamKey != "sk_param_0123456789" || req.Query != "camera=2" {
		t.Errorf("param key request %+v", req)
	}
	// SRS 3/4 bodies (numeric client_id), and the secret in a header.
	if code, a := post(t, s, "/srs/hooks/on_publish", fixture(t, "on_publish_srs4.json"), http.Header{SecretHeader: {testSecret}}); code != 200 || a.Code != 0 {
		t.Errorf("SRS 4 body with header secret: %d %+v", code, a)
	}
	// The single-URL form: one endpoint for every hook, by action.
	if code, a := post(t, s, "/srs/hooks"+q, fixture(t, "on_publish_vhost.json"), nil); code != 200 || a.Code != 0 {
		t.Errorf("on_publish on /srs/hooks: %d %+v", code, a)
	}
	if code, a := post(t, s, "/srs/hooks"+q, fixture(t, "on_unpublish_vhost.json"), nil); code != 200 || a.Code != 0 {
		t.Errorf("on_unpublish on /srs/hooks: %d %+v", code, a)
	}
	if code, a := post(t, s, "/srs/hooks/on_hls"+q, fixture(t, "on_hls.json"), nil); code != 200 || a.Code != 0 {
		t.Errorf("on_hls: %d %+v", code, a)
	}

	refused := []struct {
		name, target string
		body         []byte
		header       http.Header
		status       int
		msg          string
	}{
		{"denied key", "/srs/hooks/on_publish" + q, fixture(t, "on_publish_denied.json"), nil, 403, "unknown stream key"},
		{"other app", "/srs/hooks/on_publish" + q, fixture(t, "on_publish_other_app.json"), nil, 403, "unknown application"},
		{"no secret", "/srs/hooks/on_publish", fixture(t, "on_publish_srs4.json"), nil, 403, "secret"},
		{"wrong secret", "/srs/hooks/on_publish?secret=" + testSecret[:len(testSecret)-1] + "x", fixture(t, "on_publish_srs4.json"), nil, 403, "secret"},
		{"wrong header secret", "/srs/hooks/on_publish", fixture(t, "on_publish_srs4.json"), http.Header{SecretHeader: {"nope"}}, 403, "secret"},
		{"wrong secret on unpublish", "/srs/hooks/on_unpublish?secret=x", fixture(t, "on_unpublish.json"), nil, 403, "secret"},
		{"garbage", "/srs/hooks/on_publish" + q, []byte("{\"action\": \"on_publish\", "), nil, 400, "decode"},
		{"not an object", "/srs/hooks/on_publish" + q, []byte("0"), nil, 400, "decode"},
		{"two objects", "/srs/hooks/on_publish" + q, append(fixture(t, "on_publish.json"), '{', '}'), nil, 400, "trailing"},
		{"no action", "/srs/hooks/on_publish" + q, []byte(`{"app":"live","stream":"x"}`), nil, 400, "action"},
		{"action mismatch", "/srs/hooks/on_unpublish" + q, fixture(t, "on_publish.json"), nil, 400, "does not match"},
		{"unknown action", "/srs/hooks" + q, []byte(`{"action":"on_dvr"}`), nil, 400, "unsupported"},
		{"bad client_id", "/srs/hooks/on_publish" + q, []byte(`{"action":"on_publish","client_id":[1]}`), nil, 400, "client_id"},
		{"oversized", "/srs/hooks/on_publish" + q, append(append([]byte(`{"action":"on_publish","x":"`), bytes.Repeat([]byte("a"), MaxHookBody)...), '"', '}'), nil, 400, "over"},
		{"empty stream", "/srs/hooks/on_publish" + q, []byte(`{"action":"on_publish","app":"live","stream":""}`), nil, 403, "no stream key"},
	}
	for _, tc := range refused {
		code, a := post(t, s, tc.target, tc.body, tc.header)
		if code != tc.status || a.Code == 0 || !strings.Contains(a.Msg, tc.msg) {
			t.Errorf("%s: %d %+v, want %d with %q", tc.name, code, a, tc.status, tc.msg)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/srs/hooks/on_publish"+q, nil)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", rec.Code)
	}

	l := logs.String()
	for _, secret := range []string{testSecret, "sk_param_0123456789", "livestream", "sk_srs4_stream"} {
		if strings.Contains(l, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// TestNotRunning: without Run, publishes are refused; New checks its
// configuration.
func TestNotRunning(t *testing.T) {
	ctl := &livetest.Control{Dir: t.TempDir()}
	s, err := New(Config{Core: livetest.Start(t, live.Config{Control: ctl}), Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	// Without Run, the hook waits a moment for it, then refuses.
	if code, a := post(t, s, "/srs/hooks/on_publish"+q, fixture(t, "on_publish.json"), nil); code != 503 || a.Code == 0 {
		t.Errorf("without Run: %d %+v", code, a)
	}
	for _, bad := range []Config{{Core: s.cfg.Core, Secret: "short"}, {Core: s.cfg.Core, Secret: testSecret, SRSURL: "http://x"},
		{Core: s.cfg.Core, Secret: testSecret, SRSURL: "rtmp://x/live"}, {Secret: testSecret}} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
}

// refusingCore refuses every publish, so fuzzing exercises the parsing
// and the contract without starting sessions.
type refusingCore struct{}

func (refusingCore) Publish(ctx context.Context, req live.PublishRequest) (*live.Session, error) {
	return nil, errors.New("refused")
}

// FuzzHook: whatever SRS (or anyone holding the secret) posts, the answer
// is SRS's JSON with a status of the contract, and nothing panics.
func FuzzHook(f *testing.F) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			f.Add("on_publish", fixture(f, e.Name()))
		}
	}
	f.Add("", []byte(`{"action":"on_unpublish","client_id":null}`))
	f.Add("on_hls", []byte(`{"action":"on_hls","client_id":1e400}`))
	s, err := New(Config{Core: refusingCore{}, Secret: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	f.Cleanup(func() { cancel(); <-done })
	f.Fuzz(func(t *testing.T, hook string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/srs/hooks"+q, bytes.NewReader(body))
		req.URL.Path += "/" + hook
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 403, 503:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		var a answer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || (rec.Code == 200) != (a.Code == 0) {
			t.Fatalf("answer %q (%v) with status %d", rec.Body.String(), err, rec.Code)
		}
	})
}
