package captions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// OpenAIConfig configures the engine that calls an OpenAI-compatible
// transcription endpoint. The flags --whisper-url, --whisper-api-key and
// --whisper-model map to URL, APIKey and Model.
type OpenAIConfig struct {
	// URL is the server's base ("https://api.openai.com",
	// "http://127.0.0.1:8080"); "/v1/audio/transcriptions" is added to it,
	// without doubling a "/v1" the URL already ends with.
	URL string
	// APIKey is sent as a bearer token when set. It never appears in an
	// error, even when the server echoes it.
	APIKey string
	// Model is the form's model field; "whisper-1" if empty.
	Model string
	// Format is the response_format asked for: "verbose_json" (default) or
	// "vtt". Either answer is understood whatever was asked.
	Format string
	// Timeout bounds one request; 5 minutes if zero.
	Timeout time.Duration
	// MaxUpload bounds the audio file sent; 25 MiB (OpenAI's limit) if zero.
	MaxUpload int64
	// MaxResponse bounds the answer read; 8 MiB if zero.
	MaxResponse int64
	// Client sends the requests; a client of its own if nil.
	Client *http.Client
	// Layout shapes segments too long for the screen into several cues.
	Layout Layout
}

// OpenAI is the Engine of an OpenAI-compatible transcription endpoint
// (OpenAI, whisper.cpp's server, faster-whisper-server, LocalAI).
type OpenAI struct {
	cfg      OpenAIConfig
	endpoint string
}

// NewOpenAI checks the configuration and returns the engine.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--whisper-url %q: want an http:// or https:// URL", cfg.URL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("--whisper-url: credentials belong in --whisper-api-key, not in the URL")
	}
	switch cfg.Format {
	case "":
		cfg.Format = "verbose_json"
	case "verbose_json", "vtt":
	default:
		return nil, fmt.Errorf("whisper response format %q: want verbose_json or vtt", cfg.Format)
	}
	if cfg.Model == "" {
		cfg.Model = "whisper-1"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 25 << 20
	}
	if cfg.MaxResponse <= 0 {
		cfg.MaxResponse = 8 << 20
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	base := strings.TrimRight(u.String(), "/")
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	return &OpenAI{cfg: cfg, endpoint: base + "/audio/transcriptions"}, nil
}

// Transcribe implements Engine.
func (o *OpenAI) Transcribe(ctx context.Context, audio Chunk, lang string) ([]Cue, error) {
	body, contentType, err := o.form(audio, lang)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("whisper request: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json, text/vtt")
	if o.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.cfg.APIKey)
	}
	resp, err := o.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("whisper request: %s", o.redact(err.Error()))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, o.cfg.MaxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("whisper %s: read answer: %s", o.endpoint, o.redact(err.Error()))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("whisper %s answered %s: %s", o.endpoint, resp.Status, o.redact(serverMessage(data)))
	}
	if int64(len(data)) > o.cfg.MaxResponse {
		return nil, fmt.Errorf("whisper %s: answer over %d bytes", o.endpoint, o.cfg.MaxResponse)
	}
	cues, err := parseTranscription(data, audio.Duration)
	if err != nil {
		return nil, fmt.Errorf("whisper %s: %w", o.endpoint, err)
	}
	for i := range cues {
		cues[i].Start += audio.Offset
		cues[i].End += audio.Offset
	}
	return o.cfg.Layout.relayout(cues), nil
}

// form builds the multipart body: the chunk is small (the Transcriber cuts
// audio in pieces of about 30 seconds, 1 MB), so it is built in memory and
// sent with its length, which some servers want.
func (o *OpenAI) form(audio Chunk, lang string) ([]byte, string, error) {
	f, err := os.Open(audio.Path)
	if err != nil {
		return nil, "", fmt.Errorf("whisper upload: %w", err)
	}
	defer f.Close()
	wav, err := io.ReadAll(io.LimitReader(f, o.cfg.MaxUpload+1))
	if err != nil {
		return nil, "", fmt.Errorf("whisper upload: read %s: %w", audio.Path, err)
	}
	if int64(len(wav)) > o.cfg.MaxUpload {
		return nil, "", fmt.Errorf("whisper upload: %s is over %d bytes", audio.Path, o.cfg.MaxUpload)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", filepath.Base(audio.Path))
	if err != nil {
		return nil, "", fmt.Errorf("whisper upload: %w", err)
	}
	fw.Write(wav)
	mw.WriteField("model", o.cfg.Model)
	mw.WriteField("response_format", o.cfg.Format)
	if lang != "" {
		mw.WriteField("language", lang)
	}
	if o.cfg.Format == "verbose_json" {
		mw.WriteField("timestamp_granularities[]", "segment")
	}
	if err := mw.Close(); err != nil {
		return nil, "", fmt.Errorf("whisper upload: %w", err)
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

func (o *OpenAI) redact(s string) string {
	if o.cfg.APIKey == "" {
		return s
	}
	return strings.ReplaceAll(s, o.cfg.APIKey, "[redacted]")
}

// serverMessage extracts the error message of an error answer:
// {"error":{"message":…}} (OpenAI), {"error":"…"}, {"detail":…} (FastAPI
// servers) or {"message":…}, else the start of the body as text.
func serverMessage(data []byte) string {
	var e struct {
		Error   json.RawMessage `json:"error"`
		Detail  json.RawMessage `json:"detail"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil {
		var nested struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(e.Error, &nested) == nil && nested.Message != "":
			return clip(nested.Message)
		case json.Unmarshal(e.Error, &s) == nil && s != "":
			return clip(s)
		case json.Unmarshal(e.Detail, &s) == nil && s != "":
			return clip(s)
		case len(e.Detail) > 0:
			return clip(string(e.Detail))
		case e.Message != "":
			return clip(e.Message)
		}
	}
	if s := strings.TrimSpace(string(data)); s != "" {
		return clip(s)
	}
	return "empty answer"
}

// clip shortens a server's message to one line of reasonable length.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// verboseJSON is the part of a verbose_json answer the engine reads.
type verboseJSON struct {
	Text     string `json:"text"`
	Segments []struct {
		Start float64 `json:"start"`
		End   float64 `json:"end"`
		Text  string  `json:"text"`
	} `json:"segments"`
}

// parseTranscription reads an answer in either format, by its content
// rather than its Content-Type (servers differ). An answer with text but no
// segments becomes one cue over the whole chunk.
func parseTranscription(data []byte, chunk time.Duration) ([]Cue, error) {
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if bytes.HasPrefix(trimmed, []byte("WEBVTT")) {
		return ParseVTT(trimmed)
	}
	if !bytes.HasPrefix(trimmed, []byte("{")) {
		return nil, errors.New("answer is neither verbose_json nor WebVTT")
	}
	var v verboseJSON
	if err := json.Unmarshal(trimmed, &v); err != nil {
		return nil, fmt.Errorf("decode verbose_json answer: %w", err)
	}
	var cues []Cue
	for _, s := range v.Segments {
		text := strings.TrimSpace(s.Text)
		if text == "" || !(s.Start >= 0 && s.End >= s.Start && s.End < 1e7) {
			continue
		}
		cues = append(cues, Cue{Start: seconds(s.Start), End: seconds(s.End), Text: text})
	}
	if len(v.Segments) == 0 && strings.TrimSpace(v.Text) != "" {
		cues = append(cues, Cue{Start: 0, End: chunk, Text: strings.TrimSpace(v.Text)})
	}
	return cues, nil
}
