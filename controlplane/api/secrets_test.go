package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// secretFields are names of state fields that must never appear in an
// answer, at any depth.
var secretFields = []string{"password", "password_hash", "hash", "key_hash", "key_sealed", "session_secret",
	"stream_key_secret", "ca_key_pem", "setup_token_hash", "secret_hash", "srt_passphrase_sealed"}

// oneTimeFields may appear only in the answers that create or show them.
var oneTimeFields = map[string]func(method, path string) bool{
	"private_pem": func(m, p string) bool { return m == "POST" && p == "/v1/signing-keys" },
	"key":         func(m, p string) bool { return m == "POST" && p == "/v1/api-keys" },
	"stream_key": func(m, p string) bool {
		return m == "POST" && p == "/v1/streams" || strings.HasSuffix(p, "/key") || strings.HasSuffix(p, "/reset-key") ||
			m == "GET" && strings.HasSuffix(p, "/ingest")
	},
	// The creator types it into the encoder: only the ingest answer has it.
	"srt_passphrase": func(m, p string) bool { return m == "GET" && strings.HasSuffix(p, "/ingest") },
	// A presigned PUT URL is a credential for one object until it expires.
	"upload_url": func(m, p string) bool { return m == "POST" && p == "/v1/uploads" },
	"token": func(m, p string) bool {
		return strings.HasPrefix(p, "/v1/auth/") || strings.HasSuffix(p, "/tokens") || p == "/v1/cluster/join-tokens"
	},
}

// checkNoSecrets scans every JSON answer recorded for fields that carry
// secret material where they should not, and for secret-looking values.
func checkNoSecrets(t *testing.T, rec *recorder) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.answers) < 10 {
		t.Fatalf("only %d answers recorded: the scan would prove little", len(rec.answers))
	}
	for _, a := range rec.answers {
		path, _, _ := strings.Cut(a.path, "?")
		var v any
		if err := json.Unmarshal(a.body, &v); err != nil {
			continue // the OpenAPI document is JSON too, but decodes fine; others are errors
		}
		if path == "/v1/openapi.json" {
			continue // it names fields, it holds no values
		}
		walkJSON(v, func(k string, val any) {
			for _, f := range secretFields {
				if k == f {
					t.Errorf("%s %s: answer has field %q", a.method, a.path, k)
				}
			}
			if ok, listed := oneTimeFields[k]; listed && !ok(a.method, path) {
				t.Errorf("%s %s: answer has one-time field %q", a.method, a.path, k)
			}
		})
		body := string(a.body)
		if strings.Contains(body, "PRIVATE KEY") && !(a.method == "POST" && path == "/v1/signing-keys") {
			t.Errorf("%s %s: answer holds a private key", a.method, a.path)
		}
		if strings.Contains(body, "$argon2id$") {
			t.Errorf("%s %s: answer holds a password hash", a.method, a.path)
		}
		if strings.Contains(body, testPassword) {
			t.Errorf("%s %s: answer holds a password", a.method, a.path)
		}
	}
}

func walkJSON(v any, fn func(key string, val any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			fn(k, val)
			walkJSON(val, fn)
		}
	case []any:
		for _, val := range x {
			walkJSON(val, fn)
		}
	}
}
