package captions

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The engines' audio: 16 kHz, mono, signed 16-bit little-endian PCM.
const (
	sampleRate     = 16000
	bytesPerSecond = sampleRate * 2
)

// ErrNoAudio is returned when the input has no audio stream to transcribe.
var ErrNoAudio = errors.New("no audio stream")

// extractArgs returns ffmpeg's arguments to write the first audio stream of
// input (a file or a URL) as a 16 kHz mono s16le WAV file.
func extractArgs(input, out string) []string {
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}
	if strings.Contains(input, "://") {
		// A stalled server must not hold the job forever (microseconds).
		args = append(args, "-rw_timeout", "30000000")
	}
	return append(args, "-i", input, "-map", "0:a:0", "-vn", "-sn", "-dn",
		"-ac", "1", "-ar", strconv.Itoa(sampleRate), "-c:a", "pcm_s16le", "-f", "wav", out)
}

// ExtractAudio writes the first audio stream of input (a media file or an
// http(s) URL) to out as a 16 kHz mono s16le WAV file, the format the
// engines take. An input without audio gives ErrNoAudio.
func ExtractAudio(ctx context.Context, ffmpeg, input, out string) error {
	if ffmpeg == "" {
		ffmpeg = "ffmpeg"
	}
	cmd := exec.CommandContext(ctx, ffmpeg, extractArgs(input, out)...)
	stderr := &limitedBuffer{max: 16 << 10, keepTail: true}
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("extract audio: %w", ctx.Err())
		}
		msg := stderr.String()
		if strings.Contains(msg, "matches no streams") {
			return fmt.Errorf("extract audio: %w", ErrNoAudio)
		}
		return fmt.Errorf("extract audio: %w: %s", err, lastLine(redactURL(msg)))
	}
	return nil
}

// redactURL hides query strings in ffmpeg's messages: a presigned input URL
// carries its signature there.
func redactURL(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		fields := strings.Split(l, " ")
		for j, f := range fields {
			if q := strings.IndexByte(f, '?'); q >= 0 && strings.Contains(f, "://") {
				fields[j] = f[:q] + "?…"
			}
		}
		lines[i] = strings.Join(fields, " ")
	}
	return strings.Join(lines, "\n")
}

// wavInfo is where the samples of a WAV file are.
type wavInfo struct {
	dataOffset, dataSize int64
}

func (w wavInfo) duration() time.Duration {
	return time.Duration(w.dataSize) * time.Second / bytesPerSecond
}

// readWAVInfo walks the RIFF chunks of a WAV file, checks it is 16 kHz
// mono s16le PCM, and finds its samples. A data size beyond the end of the
// file (ffmpeg writes 0xFFFFFFFF when it cannot seek back) is clamped.
func readWAVInfo(r io.ReaderAt, size int64) (wavInfo, error) {
	var hdr [12]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil || string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return wavInfo{}, errors.New("not a RIFF WAVE file")
	}
	off := int64(12)
	fmtOK := false
	for off+8 <= size {
		var ch [8]byte
		if _, err := r.ReadAt(ch[:], off); err != nil {
			return wavInfo{}, fmt.Errorf("read wav chunk: %w", err)
		}
		id, n := string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8]))
		body := off + 8
		switch id {
		case "fmt ":
			if n < 16 {
				return wavInfo{}, errors.New("short wav fmt chunk")
			}
			var f [16]byte
			if _, err := r.ReadAt(f[:], body); err != nil {
				return wavInfo{}, fmt.Errorf("read wav fmt chunk: %w", err)
			}
			format, channels := binary.LittleEndian.Uint16(f[0:2]), binary.LittleEndian.Uint16(f[2:4])
			rate, bits := binary.LittleEndian.Uint32(f[4:8]), binary.LittleEndian.Uint16(f[14:16])
			if (format != 1 && format != 0xFFFE) || channels != 1 || rate != sampleRate || bits != 16 {
				return wavInfo{}, fmt.Errorf("wav is format %d, %d channels, %d Hz, %d bits: want PCM, 1 channel, %d Hz, 16 bits", format, channels, rate, bits, sampleRate)
			}
			fmtOK = true
		case "data":
			if !fmtOK {
				return wavInfo{}, errors.New("wav data before its fmt chunk")
			}
			n = min(n, size-body)
			return wavInfo{dataOffset: body, dataSize: n &^ 1}, nil
		}
		off = body + n + n&1
	}
	return wavInfo{}, errors.New("wav has no data chunk")
}

// openWAV opens a WAV file and reads where its samples are.
func openWAV(path string) (*os.File, wavInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, wavInfo{}, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, wavInfo{}, err
	}
	info, err := readWAVInfo(f, st.Size())
	if err != nil {
		f.Close()
		return nil, wavInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, info, nil
}

// writeWAVPart writes the samples of [start, end) of a WAV file as a WAV
// file of its own: cutting PCM needs no ffmpeg.
func writeWAVPart(src *os.File, info wavInfo, start, end time.Duration, out string) error {
	from := min(sampleOffset(start), info.dataSize)
	to := min(sampleOffset(end), info.dataSize)
	n := max(to-from, 0)
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+n))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], sampleRate)
	binary.LittleEndian.PutUint32(h[28:], bytesPerSecond)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(n))
	bw.Write(h[:])
	_, err = io.Copy(bw, io.NewSectionReader(src, info.dataOffset+from, n))
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// sampleOffset is the byte offset of the sample at d.
func sampleOffset(d time.Duration) int64 {
	if d < 0 {
		return 0
	}
	return int64(d) * sampleRate / int64(time.Second) * 2
}

// Silence is a stretch of the audio quieter than the detection threshold.
type Silence struct {
	Start, End time.Duration
}

// silenceArgs returns ffmpeg's arguments to detect silences in wav.
func silenceArgs(wav string, noiseDB float64, minimum time.Duration) []string {
	return []string{"-nostdin", "-hide_banner", "-nostats", "-i", wav,
		"-af", fmt.Sprintf("silencedetect=noise=%sdB:d=%s", strconv.FormatFloat(noiseDB, 'f', -1, 64), strconv.FormatFloat(minimum.Seconds(), 'f', -1, 64)),
		"-f", "null", "-"}
}

// DetectSilences runs ffmpeg's silencedetect filter over a WAV file of
// the given length and returns the silences it reports.
func DetectSilences(ctx context.Context, ffmpeg, wav string, total time.Duration, noiseDB float64, minimum time.Duration) ([]Silence, error) {
	if ffmpeg == "" {
		ffmpeg = "ffmpeg"
	}
	cmd := exec.CommandContext(ctx, ffmpeg, silenceArgs(wav, noiseDB, minimum)...)
	out := &limitedBuffer{max: 16 << 20}
	cmd.Stderr = out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("detect silences: %w", ctx.Err())
		}
		return nil, fmt.Errorf("detect silences: %w: %s", err, lastLine(out.String()))
	}
	return ParseSilences(out.Bytes(), total), nil
}

// ParseSilences reads the silences from the log of ffmpeg's silencedetect
// filter: "silence_start: 2.5" then "silence_end: 5.2 | silence_duration:
// 2.7". A silence still open at the end of the log lasts until total. The
// result is in order, without overlaps, within [0, total].
func ParseSilences(log []byte, total time.Duration) []Silence {
	var out []Silence
	open := time.Duration(-1)
	for _, line := range bytes.Split(log, []byte{'\n'}) {
		l := string(line)
		if !strings.Contains(l, "silencedetect") {
			continue
		}
		if v, ok := fieldAfter(l, "silence_start:"); ok {
			open = max(v, 0)
			continue
		}
		if v, ok := fieldAfter(l, "silence_end:"); ok && open >= 0 {
			out = appendSilence(out, Silence{Start: open, End: min(v, total)})
			open = -1
		}
	}
	if open >= 0 {
		out = appendSilence(out, Silence{Start: open, End: total})
	}
	return out
}

func appendSilence(out []Silence, s Silence) []Silence {
	if len(out) > 0 && s.Start < out[len(out)-1].End {
		s.Start = out[len(out)-1].End
	}
	if s.End <= s.Start {
		return out
	}
	return append(out, s)
}

// fieldAfter parses the number that follows key in l.
func fieldAfter(l, key string) (time.Duration, bool) {
	i := strings.Index(l, key)
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(l[i+len(key):])
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil || !(v >= -1e7 && v <= 1e7) {
		return 0, false
	}
	return seconds(v), true
}
