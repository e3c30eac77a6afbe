package captions

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// whisperServer is a loopback server that implements the OpenAI
// transcription API with pocketsphinx behind it, as whisper.cpp's server or
// LocalAI would with a real model.
type whisperServer struct {
	t        *testing.T
	engine   Engine
	key      string
	requests atomic.Int32
}

func (s *whisperServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
		http.Error(w, `{"error":{"message":"no such route"}}`, http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.key {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"message":"Incorrect API key provided"}}`)
		return
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if got := r.FormValue("model"); got != "whisper-test" {
		http.Error(w, `{"error":{"message":"unknown model"}}`, http.StatusBadRequest)
		return
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	defer f.Close()
	path := filepath.Join(s.t.TempDir(), "upload.wav")
	data, _ := io.ReadAll(f)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.requests.Add(1)
	cues, err := s.engine.Transcribe(r.Context(), Chunk{Path: path}, r.FormValue("language"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	switch r.FormValue("response_format") {
	case "vtt":
		w.Header().Set("Content-Type", "text/vtt")
		WriteVTT(w, cues)
	case "verbose_json":
		type segment struct {
			ID    int     `json:"id"`
			Start float64 `json:"start"`
			End   float64 `json:"end"`
			Text  string  `json:"text"`
		}
		answer := struct {
			Task     string    `json:"task"`
			Language string    `json:"language"`
			Duration float64   `json:"duration"`
			Text     string    `json:"text"`
			Segments []segment `json:"segments"`
		}{Task: "transcribe", Language: "english", Segments: []segment{}}
		var all bytes.Buffer
		for i, c := range cues {
			answer.Segments = append(answer.Segments, segment{ID: i, Start: c.Start.Seconds(), End: c.End.Seconds(), Text: " " + c.Text})
			all.WriteString(" " + c.Text)
		}
		answer.Text = all.String()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(answer)
	default:
		http.Error(w, `{"error":{"message":"unsupported response_format"}}`, http.StatusBadRequest)
	}
}

// startWhisper serves the fake on 127.0.0.1.
func startWhisper(t *testing.T, s *whisperServer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestOpenAIEngineAgainstAWhisperServer(t *testing.T) {
	ps := newPocketsphinx(t)
	input, starts := speechFile(t, t.TempDir(), false, threeWords...)
	for _, format := range []string{"verbose_json", "vtt"} {
		t.Run(format, func(t *testing.T) {
			srv := &whisperServer{t: t, engine: ps, key: "sk-test-secret"}
			url := startWhisper(t, srv)
			engine, err := NewOpenAI(OpenAIConfig{URL: url, APIKey: srv.key, Model: "whisper-test", Format: format, Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cues, _ := transcribe(t, ctx, Config{Engine: engine}, input)
			t.Logf("cues:\n%s", dumpCues(cues))
			expectWords(t, cues, []string{"center", "left", "right"}, starts, 1600*time.Millisecond, time.Second)
			if n := srv.requests.Load(); n != 1 {
				t.Errorf("server got %d transcriptions, want 1 (audio under a chunk)", n)
			}
		})
	}
}
