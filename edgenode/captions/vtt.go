package captions

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// WriteVTT writes cues as a WebVTT file. Cue text is escaped (&, <, >) so
// that it is shown as written and can never end a cue early ("-->") or open
// a tag; blank lines inside a cue, which would end it, are dropped. Cues
// without text are left out.
func WriteVTT(w io.Writer, cues []Cue) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("WEBVTT\n")
	writeCues(bw, cues, 0)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write vtt: %w", err)
	}
	return nil
}

// writeCues writes the cue blocks, each shifted back by base.
func writeCues(bw *bufio.Writer, cues []Cue, base time.Duration) {
	for _, c := range cues {
		text := escapeCueText(c.Text)
		if text == "" {
			continue
		}
		end := c.End
		if end < c.Start {
			end = c.Start
		}
		bw.WriteString("\n")
		bw.WriteString(formatTimestamp(c.Start - base))
		bw.WriteString(" --> ")
		bw.WriteString(formatTimestamp(end - base))
		bw.WriteString("\n")
		bw.WriteString(text)
		bw.WriteString("\n")
	}
}

var cueEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escapeCueText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, cueEscaper.Replace(l))
		}
	}
	return strings.Join(lines, "\n")
}

// formatTimestamp formats d as a WebVTT timestamp, hh:mm:ss.ttt (hours may
// exceed two digits; negative times are clamped to zero).
func formatTimestamp(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

// ErrNotVTT is returned by ParseVTT for input that does not start with the
// WEBVTT signature.
var ErrNotVTT = errors.New("not a WebVTT file")

// ParseVTT reads the cues of a WebVTT file, as a Whisper server answers with
// response_format=vtt. Cue identifiers, settings, NOTE, STYLE and REGION
// blocks are ignored; tags (<v Speaker>, <i>, <c.x>, timestamps) are
// removed and character references decoded, so the text is plain. A comma
// before the milliseconds (SRT style, which some servers write) is
// accepted. Blocks whose timing line does not parse are skipped.
func ParseVTT(data []byte) ([]Cue, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	if len(lines) == 0 || !(lines[0] == "WEBVTT" || strings.HasPrefix(lines[0], "WEBVTT ") || strings.HasPrefix(lines[0], "WEBVTT\t")) {
		return nil, ErrNotVTT
	}
	var cues []Cue
	i := 1
	for i < len(lines) {
		// Skip blank lines between blocks, then take one block.
		for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
			i++
		}
		start := i
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			i++
		}
		block := lines[start:i]
		if len(block) == 0 {
			continue
		}
		timing := -1
		for j, l := range block[:min(2, len(block))] {
			if strings.Contains(l, "-->") {
				timing = j
				break
			}
		}
		if timing < 0 {
			continue // NOTE, STYLE, REGION or garbage
		}
		s, e, ok := parseTiming(block[timing])
		if !ok {
			continue
		}
		var body []string
		for _, l := range block[timing+1:] {
			if l = strings.TrimSpace(plainCueText(l)); l != "" {
				body = append(body, l)
			}
		}
		if len(body) == 0 {
			continue
		}
		cues = append(cues, Cue{Start: s, End: e, Text: strings.Join(body, "\n")})
	}
	return cues, nil
}

func parseTiming(l string) (start, end time.Duration, ok bool) {
	a, b, found := strings.Cut(l, "-->")
	if !found {
		return 0, 0, false
	}
	start, ok = parseTimestamp(strings.TrimSpace(a))
	if !ok {
		return 0, 0, false
	}
	fields := strings.Fields(b)
	if len(fields) == 0 {
		return 0, 0, false
	}
	end, ok = parseTimestamp(fields[0])
	if !ok || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// parseTimestamp parses [hh:]mm:ss.ttt (or ,ttt).
func parseTimestamp(s string) (time.Duration, bool) {
	s = strings.Replace(s, ",", ".", 1)
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	secs, frac, _ := strings.Cut(parts[len(parts)-1], ".")
	if len(secs) != 2 || len(frac) > 3 {
		return 0, false
	}
	var h, m, sec, ms int64
	var ok bool
	if len(parts) == 3 {
		if h, ok = digits(parts[0], 1, 6); !ok {
			return 0, false
		}
	}
	if m, ok = digits(parts[len(parts)-2], 2, 2); !ok || m > 59 {
		return 0, false
	}
	if sec, ok = digits(secs, 2, 2); !ok || sec > 59 {
		return 0, false
	}
	if frac != "" {
		if ms, ok = digits(frac, 1, 3); !ok {
			return 0, false
		}
		for n := len(frac); n < 3; n++ {
			ms *= 10
		}
	}
	return time.Duration(((h*60+m)*60+sec)*1000+ms) * time.Millisecond, true
}

func digits(s string, minLen, maxLen int) (int64, bool) {
	if len(s) < minLen || len(s) > maxLen {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

var entityDecoder = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&nbsp;", " ", "&lrm;", "", "&rlm;", "", "&quot;", `"`, "&apos;", "'", "&#39;", "'")

// plainCueText removes the tags of a cue text line and decodes its
// character references.
func plainCueText(l string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(l, '<')
		if i < 0 {
			b.WriteString(l)
			break
		}
		b.WriteString(l[:i])
		j := strings.IndexByte(l[i:], '>')
		if j < 0 {
			break // an unclosed tag runs to the end of the line
		}
		l = l[i+j+1:]
	}
	return entityDecoder.Replace(b.String())
}
