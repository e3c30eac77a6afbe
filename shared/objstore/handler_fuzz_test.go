package objstore

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzLocalHandler sends arbitrary methods, paths, queries and bodies to
// the presigned-URL handler of a store holding one object and its kept
// signing secret. Nothing panics or answers 5xx; nothing but the one
// genuine URL reads the object; the secret never appears in an answer;
// and no request writes anything (the fuzzer cannot sign).
func FuzzLocalHandler(f *testing.F) {
	l, err := OpenLocal(LocalConfig{Dir: f.TempDir(), PublicBaseURL: "http://objects.test"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { l.Close() })
	if _, err := l.Put(f.Context(), "a/obj.mp4", strings.NewReader("the object"), 10, PutOptions{}); err != nil {
		f.Fatal(err)
	}
	get, err := l.PresignGet(f.Context(), "a/obj.mp4", time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	put, err := l.PresignPut(f.Context(), "a/new.mp4", time.Hour, PresignPutOptions{Size: 4, Once: true})
	if err != nil {
		f.Fatal(err)
	}
	genuine := strings.TrimPrefix(get, "http://objects.test")
	f.Add("GET", genuine, []byte(nil))
	f.Add("HEAD", genuine, []byte(nil))
	f.Add("PUT", strings.TrimPrefix(put.URL, "http://objects.test")+"x", []byte("body"))
	f.Add("GET", "/objects/.signing-secret", []byte(nil))
	f.Add("GET", "/objects/a/%2e%2e/.signing-secret?exp=99999999999&sig=AAAA", []byte(nil))
	f.Add("PUT", "/objects/a/obj.mp4?exp=1&len=4&once=1&sig=", []byte("evil"))
	f.Add("DELETE", "/objects/a/obj.mp4", []byte(nil))
	before := len(listKeys(f, l))
	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n#") || method == "" || strings.ContainsAny(method, " \r\n/") {
			return // not a request line a server would pass on
		}
		req, err := http.NewRequest(method, "http://objects.test"+target, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.RequestURI = target
		rec := httptest.NewRecorder()
		l.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %q", method, target, rec.Code, rec.Body)
		}
		if bytes.Contains(rec.Body.Bytes(), l.secret) {
			t.Fatalf("%s %q: the answer carries the signing secret", method, target)
		}
		if rec.Code/100 == 2 && (req.URL.Path != "/objects/a/obj.mp4" || method != "GET" && method != "HEAD") {
			t.Fatalf("%s %q: %d for a request the fuzzer could not sign", method, target, rec.Code)
		}
		if n := len(listKeys(t, l)); n != before {
			t.Fatalf("%s %q: the store now holds %d objects, not %d", method, target, n, before)
		}
	})
}

func listKeys(t testing.TB, l *Local) []string {
	var keys []string
	if err := l.List(t.Context(), "", func(info ObjectInfo) error { keys = append(keys, info.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}
