package captions

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const secretKey = "sk-live-0123456789abcdef"

// fakeWhisper serves handler on 127.0.0.1 and returns an engine for it.
func fakeWhisper(t *testing.T, cfg OpenAIConfig, handler http.HandlerFunc) (*OpenAI, Chunk) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	cfg.URL = srv.URL + cfg.URL
	cfg.APIKey = secretKey
	engine, err := NewOpenAI(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "chunk.wav")
	if err := os.WriteFile(path, []byte("RIFF....WAVE not really"), 0o600); err != nil {
		t.Fatal(err)
	}
	return engine, Chunk{Path: path, Offset: 30 * time.Second, Duration: 10 * time.Second}
}

func TestOpenAISendsTheForm(t *testing.T) {
	var got http.Header
	var form map[string][]string
	var file string
	engine, chunk := fakeWhisper(t, OpenAIConfig{URL: "/v1/", Model: "large-v3"}, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/audio/transcriptions" {
			http.NotFound(w, r)
			return
		}
		got = r.Header
		r.ParseMultipartForm(1 << 20)
		form = r.MultipartForm.Value
		f, h, _ := r.FormFile("file")
		data, _ := io.ReadAll(f)
		file = h.Filename + ":" + string(data)
		io.WriteString(w, `{"text":" hi there","segments":[{"start":1.5,"end":2.25,"text":" hi"},{"start":2.25,"end":3,"text":" there "},{"start":5,"end":4,"text":"backwards"},{"start":6,"end":7,"text":"  "}]}`)
	})
	cues, err := engine.Transcribe(context.Background(), chunk, "en")
	if err != nil {
		t.Fatal(err)
	}
	want := []Cue{{Start: 31500 * time.Millisecond, End: 32250 * time.Millisecond, Text: "hi"}, {Start: 32250 * time.Millisecond, End: 33 * time.Second, Text: "there"}}
	if !reflect.DeepEqual(cues, want) {
		t.Errorf("cues %v, want %v", cues, want)
	}
	if got.Get("Authorization") != "Bearer "+secretKey || got.Get("Content-Length") == "" && !strings.HasPrefix(got.Get("Content-Type"), "multipart/form-data") {
		t.Errorf("headers %v", got)
	}
	for k, v := range map[string]string{"model": "large-v3", "language": "en", "response_format": "verbose_json"} {
		if len(form[k]) != 1 || form[k][0] != v {
			t.Errorf("form %s = %q, want %q", k, form[k], v)
		}
	}
	if file != "chunk.wav:RIFF....WAVE not really" {
		t.Errorf("file %q", file)
	}
}

func TestOpenAIAnswers(t *testing.T) {
	cases := []struct {
		name, body string
		want       []Cue
	}{
		{"vtt even when json was asked", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n hello \n", []Cue{{31 * time.Second, 32 * time.Second, "hello"}}},
		{"text without segments covers the chunk", `{"text":" all of it "}`, []Cue{{30 * time.Second, 37 * time.Second, "all of"}, {37 * time.Second, 40 * time.Second, "it"}}},
		{"nothing said", `{"text":"","segments":[]}`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			engine, chunk := fakeWhisper(t, OpenAIConfig{}, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, c.body) })
			cues, err := engine.Transcribe(context.Background(), chunk, "")
			if err != nil || !reflect.DeepEqual(cues, c.want) {
				t.Errorf("got %v, %v; want %v", cues, err, c.want)
			}
		})
	}
}

func TestOpenAIErrorsAreClearAndKeepTheKeySecret(t *testing.T) {
	cases := []struct {
		name    string
		cfg     OpenAIConfig
		handler http.HandlerFunc
		want    []string
	}{
		{"openai error", OpenAIConfig{}, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"Incorrect API key provided: `+secretKey+`.","type":"invalid_request_error"}}`)
		}, []string{"401 Unauthorized", "Incorrect API key provided: [redacted]."}},
		{"fastapi detail", OpenAIConfig{}, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnprocessableEntity)
			io.WriteString(w, `{"detail":[{"loc":["body","file"],"msg":"field required"}]}`)
		}, []string{"422 Unprocessable Entity", "field required"}},
		{"plain text", OpenAIConfig{}, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, strings.Repeat("model not loaded ", 100), http.StatusServiceUnavailable)
		}, []string{"503 Service Unavailable", "model not loaded model", "…"}},
		{"garbage", OpenAIConfig{}, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>hello</html>") },
			[]string{"neither verbose_json nor WebVTT"}},
		{"answer too long", OpenAIConfig{MaxResponse: 100}, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"text":"`+strings.Repeat("a", 200)+`"}`)
		}, []string{"answer over 100 bytes"}},
		{"upload too large", OpenAIConfig{MaxUpload: 10}, func(w http.ResponseWriter, r *http.Request) {}, []string{"over 10 bytes"}},
		{"timeout", OpenAIConfig{Timeout: 200 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
			// Once the body is read, the server notices the client
			// hanging up and cancels the request's context.
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		}, []string{"deadline exceeded"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			engine, chunk := fakeWhisper(t, c.cfg, c.handler)
			_, err := engine.Transcribe(context.Background(), chunk, "en")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secretKey) {
				t.Errorf("error %q shows the API key", err)
			}
		})
	}
}

func TestNewOpenAI(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "127.0.0.1:8080", "http://user:pw@host"} {
		if _, err := NewOpenAI(OpenAIConfig{URL: u}); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
	if _, err := NewOpenAI(OpenAIConfig{URL: "http://h", Format: "srt"}); err == nil {
		t.Error("format srt accepted")
	}
	for u, want := range map[string]string{
		"https://api.openai.com":    "https://api.openai.com/v1/audio/transcriptions",
		"http://127.0.0.1:8080/v1/": "http://127.0.0.1:8080/v1/audio/transcriptions",
		"http://h/proxy/whisper":    "http://h/proxy/whisper/v1/audio/transcriptions",
	} {
		e, err := NewOpenAI(OpenAIConfig{URL: u})
		if err != nil || e.endpoint != want {
			t.Errorf("%s: endpoint %v %v, want %s", u, e, err, want)
		}
	}
}
