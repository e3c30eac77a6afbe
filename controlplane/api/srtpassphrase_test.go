package api

import (
	"strings"
	"testing"

	"github.com/livestreams/livestreams/controlplane/state"
)

// TestStreamSRTPassphrase: srt_passphrase is optional, 10 to 79 bytes of
// printable text, set on create and PATCH ("" removes it). It is stored
// sealed, stream views say only srt_passphrase_set, and the ingest answer
// gives it to a member beside the SRT URL; no other answer holds it.
func TestStreamSRTPassphrase(t *testing.T) {
	t.Parallel()
	w := newWHIPEnv(t)
	w.register(state.Edge{RTMPURL: "rtmp://edge-w.test:1935/live", SRTURL: "srt://edge-w.test:8890", HLSURL: "http://edge-w.test:8081"})
	const pass, next = "srt pass phrase 1", "another-passphrase-42"

	for _, bad := range []string{"short-pass", strings.Repeat("x", 80), "tab\tin-the-middle"} {
		if bad == "short-pass" {
			bad = bad[:9]
		}
		a := w.admin.do("POST", "/v1/streams", map[string]any{"name": "bad", "srt_passphrase": bad})
		if a.status != 400 || a.code() != "invalid" {
			t.Errorf("create with a %d-byte srt_passphrase: %d %s, want 400 invalid", len(bad), a.status, a.body)
		}
		if strings.Contains(string(a.body), bad) {
			t.Errorf("the refusal quotes the passphrase: %s", a.body)
		}
		w.admin.must(400, "PATCH", "/v1/streams/"+w.sid, map[string]any{"srt_passphrase": bad})
	}
	for _, ok := range []string{strings.Repeat("y", 10), strings.Repeat("z", 79)} {
		w.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "edge", "srt_passphrase": ok})
	}

	created := w.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "encrypted", "srt_passphrase": pass}).json(t)
	id := str(created, "id")
	if created["srt_passphrase_set"] != true {
		t.Errorf("create answer srt_passphrase_set = %v", created["srt_passphrase_set"])
	}
	if got := w.member.must(200, "GET", "/v1/streams/"+id, nil).json(t); got["srt_passphrase_set"] != true {
		t.Errorf("stream view srt_passphrase_set = %v", got["srt_passphrase_set"])
	}
	w.member.must(200, "GET", "/v1/streams", nil)
	if got := w.member.must(200, "GET", "/v1/streams/"+w.sid, nil).json(t); got["srt_passphrase_set"] != false {
		t.Errorf("a stream without one: srt_passphrase_set = %v", got["srt_passphrase_set"])
	}
	ingest := func(sid string) map[string]any {
		return w.member.must(200, "GET", "/v1/streams/"+sid+"/ingest", nil).json(t)
	}
	if in := ingest(id); in["srt_passphrase"] != pass || str(in, "srt_url") == "" {
		t.Errorf("ingest answer: srt_passphrase %v beside srt_url %v", in["srt_passphrase"], in["srt_url"])
	}
	if in := ingest(w.sid); in["srt_passphrase"] != nil {
		t.Errorf("ingest of a stream without a passphrase has srt_passphrase %v", in["srt_passphrase"])
	}
	w.user("viewer@example.com", w.orgA, "viewer").must(403, "GET", "/v1/streams/"+id+"/ingest", nil)

	var stored state.Stream
	if err := w.n.node.Store().View(func(tx *state.Tx) error { var err error; stored, err = tx.Stream(id); return err }); err != nil {
		t.Fatal(err)
	}
	if stored.SRTPassphraseSealed == "" || strings.Contains(stored.SRTPassphraseSealed, pass) {
		t.Errorf("stored passphrase %q is not sealed", stored.SRTPassphraseSealed)
	}

	// A PATCH replaces it, one without it keeps it, "" removes it.
	if got := w.admin.must(200, "PATCH", "/v1/streams/"+id, map[string]any{"srt_passphrase": next}).json(t); got["srt_passphrase_set"] != true {
		t.Errorf("after PATCH: srt_passphrase_set = %v", got["srt_passphrase_set"])
	}
	w.admin.must(200, "PATCH", "/v1/streams/"+id, map[string]any{"name": "renamed"})
	if in := ingest(id); in["srt_passphrase"] != next {
		t.Errorf("after PATCH: srt_passphrase %v, want the new one", in["srt_passphrase"])
	}
	if got := w.admin.must(200, "PATCH", "/v1/streams/"+id, map[string]any{"srt_passphrase": ""}).json(t); got["srt_passphrase_set"] != false {
		t.Errorf("after removing it: srt_passphrase_set = %v", got["srt_passphrase_set"])
	}
	if in := ingest(id); in["srt_passphrase"] != nil {
		t.Errorf("after removing it: srt_passphrase %v", in["srt_passphrase"])
	}

	checkNoSecrets(t, w.rec)
	w.rec.mu.Lock()
	defer w.rec.mu.Unlock()
	for _, a := range w.rec.answers {
		if (strings.Contains(string(a.body), pass) || strings.Contains(string(a.body), next)) && !strings.HasSuffix(a.path, "/ingest") {
			t.Errorf("%s %s: answer holds the passphrase", a.method, a.path)
		}
	}
}
