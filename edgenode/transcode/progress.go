package transcode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Progress is one block of ffmpeg's -progress report. Values ffmpeg
// reports as N/A (or garbage) are zero.
type Progress struct {
	Frame       int64
	FPS         float64
	Speed       float64 // 1.0 = real time
	BitrateKbps float64
	OutTimeMS   int64 // media time written so far, in milliseconds
	TotalSize   int64 // bytes
	Done        bool  // the last block: ffmpeg is finishing
	At          time.Time
}

// maxProgressLine bounds one key=value line; real ones are under 100 bytes.
// Longer lines are skipped, so a misbehaving writer cannot grow memory.
const maxProgressLine = 4096

// ParseProgress reads ffmpeg -progress output (key=value lines, each block
// ended by progress=continue or progress=end) and calls fn once per block.
// Unknown keys, malformed lines and overlong lines are ignored. It returns
// nil at EOF and the read error otherwise.
func ParseProgress(r io.Reader, fn func(Progress)) error {
	br := bufio.NewReaderSize(r, maxProgressLine)
	var b progressBlock
	for {
		line, err := readBoundedLine(br)
		if line != nil {
			if p, ok := b.add(line); ok && fn != nil {
				fn(p)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read ffmpeg progress: %w", err)
		}
	}
}

// readBoundedLine returns the next line without its terminator, or nil for
// a line longer than the reader's buffer (which it consumes).
func readBoundedLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return bytes.TrimRight(line, "\r\n"), err
	}
	for errors.Is(err, bufio.ErrBufferFull) {
		_, err = br.ReadSlice('\n')
	}
	return nil, err
}

// progressBlock accumulates one block. ffmpeg reports the output time
// three ways; out_time_us is preferred, out_time_ms (which despite its
// name is also in microseconds) next, the HH:MM:SS.micro form last.
type progressBlock struct {
	p        Progress
	timeRank int
}

func (b *progressBlock) add(line []byte) (Progress, bool) {
	k, v, ok := bytes.Cut(line, []byte("="))
	if !ok {
		return Progress{}, false
	}
	key, val := string(bytes.TrimSpace(k)), strings.TrimSpace(string(v))
	switch key {
	case "frame":
		b.p.Frame = parseCount(val)
	case "fps":
		b.p.FPS = parseRate(val)
	case "bitrate":
		b.p.BitrateKbps = parseRate(strings.TrimSuffix(val, "kbits/s"))
	case "total_size":
		b.p.TotalSize = parseCount(val)
	case "speed":
		b.p.Speed = parseRate(strings.TrimSuffix(val, "x"))
	case "out_time_us":
		if us, ok := parseNonNegative(val); ok {
			b.setTime(3, us)
		}
	case "out_time_ms":
		if us, ok := parseNonNegative(val); ok {
			b.setTime(2, us)
		}
	case "out_time":
		if us, ok := parseClock(val); ok {
			b.setTime(1, us)
		}
	case "progress":
		p := b.p
		p.Done = val == "end"
		p.At = time.Now()
		*b = progressBlock{}
		return p, true
	}
	return Progress{}, false
}

func (b *progressBlock) setTime(rank int, us int64) {
	if rank >= b.timeRank {
		b.p.OutTimeMS, b.timeRank = us/1000, rank
	}
}

// parseCount parses a non-negative integer; anything else is 0.
func parseCount(s string) int64 {
	n, _ := parseNonNegative(s)
	return n
}

func parseNonNegative(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// parseRate parses a finite non-negative decimal; anything else is 0.
func parseRate(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0
	}
	return f
}

// parseClock parses ffmpeg's HH:MM:SS.micro into microseconds. Negative
// times (before the first timestamp) are reported as not ok.
func parseClock(s string) (int64, bool) {
	if strings.HasPrefix(s, "-") {
		return 0, false
	}
	h, rest, ok1 := strings.Cut(s, ":")
	m, sec, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return 0, false
	}
	hours, err1 := strconv.ParseInt(h, 10, 64)
	mins, err2 := strconv.ParseInt(m, 10, 64)
	secs, err3 := strconv.ParseFloat(sec, 64)
	if err1 != nil || err2 != nil || err3 != nil || hours < 0 || hours > 1e6 ||
		mins < 0 || mins >= 60 || !(secs >= 0 && secs < 60) {
		return 0, false
	}
	return (hours*3600+mins*60)*1e6 + int64(secs*1e6), true
}
