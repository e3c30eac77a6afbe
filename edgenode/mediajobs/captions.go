package mediajobs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/livestreams/livestreams/edgenode/captions"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
)

// CaptionsConfig chooses the speech-to-text engine of captions jobs: an
// OpenAI-compatible transcription endpoint when WhisperURL is set (the
// edge's --whisper-url, --whisper-api-key, --whisper-model), else the
// offline pocketsphinx engine, which knows English and the languages of
// PocketsphinxModels. Without either (no URL, pocketsphinx not installed)
// the runner takes no captions jobs.
type CaptionsConfig struct {
	WhisperURL string
	// WhisperAPIKey is sent as a bearer token; it never reaches a log line
	// or an error.
	WhisperAPIKey string
	// WhisperModel is the model asked for; "whisper-1" if empty.
	WhisperModel string
	// Pocketsphinx is the pocketsphinx_continuous program; PATH's if empty.
	Pocketsphinx       string
	PocketsphinxModels map[string]captions.PocketsphinxModel
}

// captionsEngine builds the engine cfg asks for. A Whisper URL that does
// not parse is an error; pocketsphinx missing only means no engine (nil).
func captionsEngine(cfg CaptionsConfig, log *slog.Logger) (e captions.Engine, name string, langs map[string]bool, err error) {
	if cfg.WhisperURL != "" {
		e, err := captions.NewOpenAI(captions.OpenAIConfig{URL: cfg.WhisperURL, APIKey: cfg.WhisperAPIKey, Model: cfg.WhisperModel})
		if err != nil {
			return nil, "", nil, fmt.Errorf("media runner: %w", err)
		}
		return e, "whisper", nil, nil
	}
	ps, err := captions.NewPocketsphinx(captions.PocketsphinxConfig{Binary: cfg.Pocketsphinx, Models: cfg.PocketsphinxModels})
	if err != nil {
		log.Warn("captions jobs disabled: no --whisper-url and no offline engine", "err", err)
		return nil, "", nil, nil
	}
	// The languages pocketsphinx_continuous has models for: its default,
	// Debian's US English, and those configured.
	langs = map[string]bool{"en": true, "en-us": true}
	for l := range cfg.PocketsphinxModels {
		langs[strings.ToLower(l)] = true
	}
	return ps, "pocketsphinx", langs, nil
}

// Types returns the job types the runner can run: the media jobs, and
// captions when it has a speech-to-text engine.
func (r *Runner) Types() []string {
	types := []string{protocol.JobVOD, protocol.JobRecordingVOD, protocol.JobClip}
	if r.captions != nil {
		types = append(types, protocol.JobCaptions)
	}
	return types
}

// Shares of a captions job's progress (percent): the speech recognition
// is nearly all of it.
const (
	shareCaptionsProbe      = 2
	shareCaptionsTranscribe = 95
)

// subtitleSegment is the length of the subtitles rendition's segments.
const subtitleSegment = 6 * time.Second

// captionsJob runs a captions job: it transcribes the asset's source and
// stores the WebVTT file, the segmented subtitles rendition, and the
// master playlist with the rendition's EXT-X-MEDIA line, in that order,
// so that no playlist names a file not yet stored. Every key is derived
// from the asset and the language: a second run overwrites the first.
func (r *Runner) captionsJob(ctx context.Context, j *jobRun, c protocol.CaptionsJob, ttl time.Duration) (protocol.MediaResult, error) {
	vttName, err := objstore.CaptionsFile(c.Language)
	if err != nil {
		return protocol.MediaResult{}, permanent("bad payload: %w", err)
	}
	rendition, _ := objstore.SubtitlesRendition(c.Language)
	if r.captions == nil {
		return protocol.MediaResult{}, permanent("this edge has no speech-to-text engine (set --whisper-url, or install pocketsphinx)")
	}
	if r.captionsLangs != nil && !r.captionsLangs[strings.ToLower(c.Language)] {
		// Refused at once, not after extracting the audio.
		return protocol.MediaResult{}, permanent("the built-in pocketsphinx engine has no model for %q (it knows English); "+
			"set --whisper-url for other languages", c.Language)
	}
	ph := j.prog.whole()
	hlsPrefix := c.Prefix + objstore.HLSDir + "/"
	masterKey := hlsPrefix + "master.m3u8"
	master, err := r.getSmall(ctx, masterKey)
	if errors.Is(err, objstore.ErrNotFound) {
		return protocol.MediaResult{}, permanent("asset has no HLS master playlist (%s): prepare it before captioning", masterKey)
	} else if err != nil {
		return protocol.MediaResult{}, err
	}
	timing, err := r.ladderTiming(ctx, j, hlsPrefix, master)
	if err != nil {
		return protocol.MediaResult{}, err
	}
	ph.sub(0, shareCaptionsProbe).set(1)

	presigned, err := r.store.PresignGet(ctx, c.SourceKey, ttl)
	if errors.Is(err, objstore.ErrNotFound) {
		return protocol.MediaResult{}, permanent("source %s not found", c.SourceKey)
	} else if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("presign source: %w", err)
	}
	j.red.add(presigned, "source")
	input, release, err := r.localInput(presigned, j.red)
	if err != nil {
		return protocol.MediaResult{}, err
	}
	defer release()
	tr, err := captions.New(captions.Config{Engine: r.captions, FFmpeg: r.ffmpegBin, WorkDir: j.dir, Logger: j.log})
	if err != nil {
		return protocol.MediaResult{}, err
	}
	j.log.Info("transcribing", "language", c.Language, "engine", r.captionsName, "duration", timing.total)
	cues, err := tr.Transcribe(ctx, input, c.Language, ph.sub(shareCaptionsProbe, shareCaptionsTranscribe).set)
	if errors.Is(err, captions.ErrUnsupportedLanguage) {
		return protocol.MediaResult{}, permanent("%s engine: %w", r.captionsName, err)
	} else if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("captions: %w", err)
	}

	var whole bytes.Buffer
	if err := captions.WriteVTT(&whole, cues); err != nil {
		return protocol.MediaResult{}, err
	}
	playlist, segments, err := captions.SegmentVTT(cues, captions.SegmentOptions{Duration: subtitleSegment, Total: timing.total, MPEGTS: timing.mpegts})
	if err != nil {
		return protocol.MediaResult{}, err
	}
	tag, err := captions.MediaTag(languageName(c.Language), c.Language, rendition+"/index.m3u8")
	if err != nil {
		return protocol.MediaResult{}, permanent("%w", err)
	}
	newMaster, err := captions.AddSubtitles(master, tag)
	if err != nil {
		return protocol.MediaResult{}, permanent("asset's master playlist: %w", err)
	}

	// Files: the whole WebVTT and the segments, then the rendition's
	// playlist, then the master that names it.
	type object struct {
		key  string
		data []byte
	}
	rendPrefix := hlsPrefix + rendition + "/"
	waves := [][]object{{{c.Prefix + vttName, whole.Bytes()}}, {{rendPrefix + "index.m3u8", playlist}}, {{masterKey, newMaster}}}
	for _, s := range segments {
		waves[0] = append(waves[0], object{rendPrefix + s.Name, s.VTT})
	}
	up := ph.sub(shareCaptionsTranscribe, 100)
	done, total := 0, len(segments)+3
	for _, w := range waves {
		for _, o := range w {
			// Not immutable: captioning again (another engine) rewrites them.
			if _, err := r.store.Put(ctx, o.key, bytes.NewReader(o.data), int64(len(o.data)), objstore.PutOptions{CacheControl: "no-cache"}); err != nil {
				return protocol.MediaResult{}, fmt.Errorf("store %s: %w", path.Base(o.key), err)
			}
			done++
			up.set(float64(done) / float64(total))
		}
	}
	j.log.Info("captions stored", "language", c.Language, "cues", len(cues), "segments", len(segments))
	return protocol.MediaResult{Captions: &protocol.CaptionsResult{Language: c.Language, VTT: c.Prefix + vttName,
		Playlist: rendPrefix + "index.m3u8", Cues: len(cues)}}, nil
}

// maxSmallObject bounds the playlists and init segments a captions job
// reads whole.
const maxSmallObject = 16 << 20

func (r *Runner) getSmall(ctx context.Context, key string) ([]byte, error) {
	rc, _, err := r.store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxSmallObject+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path.Base(key), err)
	}
	if len(data) > maxSmallObject {
		return nil, permanent("%s is over %d bytes", path.Base(key), maxSmallObject)
	}
	return data, nil
}

// ladderTiming is what the subtitles rendition must match in the video
// renditions: their length, and the media time (90 kHz) their first frame
// is presented at, which each WebVTT segment's X-TIMESTAMP-MAP maps cue
// time zero to.
type ladderTiming struct {
	total  time.Duration
	mpegts int64
}

// ladderTiming reads the first variant's media playlist: the sum of its
// segments' durations, and the start time ffprobe finds in its init
// segment and first media segment.
func (r *Runner) ladderTiming(ctx context.Context, j *jobRun, hlsPrefix string, master []byte) (ladderTiming, error) {
	variants, err := parseMaster(master)
	if err != nil || len(variants) == 0 {
		return ladderTiming{}, permanent("asset's master playlist has no variant: %v", err)
	}
	uri := variants[0].URI
	if !relativeURI(uri) {
		return ladderTiming{}, permanent("asset's variant %q is not a relative path", uri)
	}
	media, err := r.getSmall(ctx, hlsPrefix+uri)
	if err != nil {
		return ladderTiming{}, fmt.Errorf("variant playlist: %w", err)
	}
	total, initURI, first := parseMediaTiming(media)
	if total <= 0 || first == "" {
		return ladderTiming{}, permanent("asset's variant playlist %s has no segments", uri)
	}
	dir := path.Dir(uri)
	probe := filepath.Join(j.dir, "first.mp4")
	f, err := os.Create(probe)
	if err != nil {
		return ladderTiming{}, err
	}
	for _, name := range []string{initURI, first} {
		if name == "" {
			continue
		}
		if !relativeURI(name) {
			f.Close()
			return ladderTiming{}, permanent("asset's segment %q is not a relative path", name)
		}
		data, err := r.getSmall(ctx, hlsPrefix+path.Join(dir, name))
		if err != nil {
			f.Close()
			return ladderTiming{}, fmt.Errorf("first segment: %w", err)
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return ladderTiming{}, err
		}
	}
	if err := f.Close(); err != nil {
		return ladderTiming{}, err
	}
	out, err := r.ffprobeWith(ctx, probe, j.red, "-show_entries", "format=start_time")
	if err != nil {
		return ladderTiming{}, fmt.Errorf("probe first segment: %w", err)
	}
	var v struct {
		Format struct {
			StartTime string `json:"start_time"`
		} `json:"format"`
	}
	start := 0.0
	if json.Unmarshal(out, &v) == nil {
		if s, err := strconv.ParseFloat(v.Format.StartTime, 64); err == nil && s > 0 && !math.IsInf(s, 0) {
			start = s
		}
	}
	return ladderTiming{total: total, mpegts: int64(math.Round(start*90000)) % (1 << 33)}, nil
}

// parseMediaTiming reads a media playlist's total duration, its
// EXT-X-MAP URI and its first segment's URI.
func parseMediaTiming(data []byte) (total time.Duration, initURI, first string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxPlaylistLine)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 && s < 3600 {
				total += time.Duration(s * float64(time.Second))
			}
		case strings.HasPrefix(line, "#EXT-X-MAP:") && initURI == "":
			_, rest, ok := strings.Cut(line, `URI="`)
			if ok {
				initURI, _, _ = strings.Cut(rest, `"`)
			}
		case line != "" && !strings.HasPrefix(line, "#") && first == "":
			first = line
		}
	}
	return total, initURI, first
}

// relativeURI reports whether a playlist URI is a plain relative path
// inside the asset's HLS directory.
func relativeURI(u string) bool {
	return u != "" && !strings.Contains(u, "://") && !strings.HasPrefix(u, "/") && !strings.ContainsAny(u, "?#\\") &&
		!strings.Contains("/"+u+"/", "/../") && objstore.ValidateKey(u) == nil
}

// languageNames are the NAMEs players show for the commonest languages;
// any other shows its tag.
var languageNames = map[string]string{
	"en": "English", "es": "Español", "fr": "Français", "de": "Deutsch", "it": "Italiano", "pt": "Português",
	"nl": "Nederlands", "sv": "Svenska", "pl": "Polski", "ru": "Русский", "uk": "Українська", "ja": "日本語",
	"zh": "中文", "ko": "한국어", "ar": "العربية", "hi": "हिन्दी", "tr": "Türkçe",
}

func languageName(lang string) string {
	primary, _, _ := strings.Cut(lang, "-")
	if n, ok := languageNames[primary]; ok {
		if primary != lang {
			return n + " (" + lang + ")"
		}
		return n
	}
	return lang
}
