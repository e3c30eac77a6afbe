// Package captionstest serves what tests of captions need from outside:
// a loopback OpenAI-compatible transcription server with the offline
// pocketsphinx engine behind it, as whisper.cpp's server or LocalAI would
// answer with a real model.
package captionstest

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/livestreams/livestreams/edgenode/captions"
	"github.com/livestreams/livestreams/shared/testutil"
)

// WhisperServer implements POST /v1/audio/transcriptions (multipart: file,
// model, language, response_format verbose_json or vtt) for one API key
// and one model name.
type WhisperServer struct {
	// URL is the server's base, http://127.0.0.1:PORT.
	URL string

	t        testing.TB
	engine   captions.Engine
	key      string
	model    string
	requests atomic.Int32
}

// NewWhisperServer starts the server on 127.0.0.1 for the test; without
// pocketsphinx it skips the test, or fails it under CI (testutil.Missing).
func NewWhisperServer(t testing.TB, key, model string) *WhisperServer {
	t.Helper()
	ps, err := captions.NewPocketsphinx(captions.PocketsphinxConfig{})
	if err != nil {
		testutil.Missing(t, "no pocketsphinx: %v", err)
	}
	s := &WhisperServer{t: t, engine: ps, key: key, model: model}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Requests is how many transcriptions the server made.
func (s *WhisperServer) Requests() int { return int(s.requests.Load()) }

// ServeHTTP implements the transcription endpoint.
func (s *WhisperServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	if got := r.FormValue("model"); got != s.model {
		http.Error(w, `{"error":{"message":"unknown model"}}`, http.StatusBadRequest)
		return
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	defer f.Close()
	dir, err := os.MkdirTemp("", "whisper-")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "upload.wav")
	data, _ := io.ReadAll(f)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.requests.Add(1)
	cues, err := s.engine.Transcribe(r.Context(), captions.Chunk{Path: path}, r.FormValue("language"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	switch r.FormValue("response_format") {
	case "vtt":
		w.Header().Set("Content-Type", "text/vtt")
		captions.WriteVTT(w, cues)
	case "verbose_json", "":
		type segment struct {
			ID    int     `json:"id"`
			Start float64 `json:"start"`
			End   float64 `json:"end"`
			Text  string  `json:"text"`
		}
		answer := struct {
			Task     string    `json:"task"`
			Language string    `json:"language"`
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
