package llhls

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// maxBox bounds one top-level box read into memory: a fragment of a few
// frames of a 1080p rung is well under a megabyte; a whole GOP of a
// high-bitrate source in one fragment stays under this.
const maxBox = 64 << 20

// box is one top-level ISO BMFF box as read, header included.
type box struct {
	typ  string
	data []byte // the whole box, header included
	body []byte // data after the header
}

// readBox reads the next top-level box from r. It returns io.EOF at a
// clean end between boxes and io.ErrUnexpectedEOF inside one.
func readBox(r *bufio.Reader) (box, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:8]); err != nil {
		return box{}, err
	}
	size := uint64(binary.BigEndian.Uint32(hdr[:4]))
	typ := string(hdr[4:8])
	hlen := 8
	switch size {
	case 0:
		return box{}, fmt.Errorf("box %q: size 0 (to end of file) on a stream", printable(typ))
	case 1:
		if _, err := io.ReadFull(r, hdr[8:16]); err != nil {
			return box{}, noEOF(err)
		}
		size = binary.BigEndian.Uint64(hdr[8:16])
		hlen = 16
	}
	if size < uint64(hlen) || size > maxBox {
		return box{}, fmt.Errorf("box %q: size %d out of range", printable(typ), size)
	}
	data := make([]byte, size)
	copy(data, hdr[:hlen])
	if _, err := io.ReadFull(r, data[hlen:]); err != nil {
		return box{}, noEOF(err)
	}
	return box{typ: typ, data: data, body: data[hlen:]}, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// printable keeps a box type from garbage input fit for an error message.
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// children iterates over the boxes inside a container's body; it stops
// (returning false) at the first malformed one.
func children(body []byte, yield func(typ string, body []byte) bool) error {
	for len(body) > 0 {
		if len(body) < 8 {
			return errors.New("truncated box header")
		}
		size := uint64(binary.BigEndian.Uint32(body[:4]))
		typ := string(body[4:8])
		hlen := uint64(8)
		if size == 1 {
			if len(body) < 16 {
				return errors.New("truncated box header")
			}
			size, hlen = binary.BigEndian.Uint64(body[8:16]), 16
		} else if size == 0 {
			size = uint64(len(body))
		}
		if size < hlen || size > uint64(len(body)) {
			return fmt.Errorf("box %q: size %d out of range", printable(typ), size)
		}
		if !yield(typ, body[hlen:size]) {
			return nil
		}
		body = body[size:]
	}
	return nil
}

// Track kinds, from the handler of each trak.
const (
	handlerVideo = "vide"
	handlerAudio = "soun"
)

// track is what the packager needs to know of one track of the init
// segment.
type track struct {
	id        uint32
	handler   string // "vide", "soun", …
	timescale uint32
	codec     string // RFC 6381 codec string: "avc1.4d401f", "mp4a.40.2"; "" if unknown
	width     int
	height    int
	// defaultFlags/defaultDuration come from mvex/trex, used when a
	// fragment does not say.
	defaultFlags    uint32
	defaultDuration uint32
}

// parseInit reads the tracks of a moov box's body.
func parseInit(moov []byte) ([]track, error) {
	var tracks []track
	var trex = map[uint32][2]uint32{}
	var ferr error
	err := children(moov, func(typ string, body []byte) bool {
		switch typ {
		case "trak":
			t, err := parseTrak(body)
			if err != nil {
				ferr = err
				return false
			}
			tracks = append(tracks, t)
		case "mvex":
			_ = children(body, func(typ string, b []byte) bool {
				// trex: version/flags, track_ID, default_sample_description_index,
				// default_sample_duration, default_sample_size, default_sample_flags.
				if typ == "trex" && len(b) >= 24 {
					trex[binary.BigEndian.Uint32(b[4:8])] = [2]uint32{binary.BigEndian.Uint32(b[12:16]), binary.BigEndian.Uint32(b[20:24])}
				}
				return true
			})
		}
		return true
	})
	if err = errors.Join(err, ferr); err != nil {
		return nil, fmt.Errorf("moov: %w", err)
	}
	for i := range tracks {
		if d, ok := trex[tracks[i].id]; ok {
			tracks[i].defaultDuration, tracks[i].defaultFlags = d[0], d[1]
		}
	}
	if len(tracks) == 0 {
		return nil, errors.New("moov: no tracks")
	}
	return tracks, nil
}

func parseTrak(trak []byte) (track, error) {
	var t track
	err := walk(trak, func(path, typ string, b []byte) {
		switch typ {
		case "tkhd":
			// version 1 has 64-bit times: the track id follows two of them.
			if len(b) >= 1 {
				off := 12
				if b[0] == 1 {
					off = 20
				}
				if len(b) >= off+4 {
					t.id = binary.BigEndian.Uint32(b[off : off+4])
				}
			}
		case "mdhd":
			if len(b) >= 1 {
				off := 12
				if b[0] == 1 {
					off = 20
				}
				if len(b) >= off+4 {
					t.timescale = binary.BigEndian.Uint32(b[off : off+4])
				}
			}
		case "hdlr":
			if len(b) >= 12 {
				t.handler = string(b[8:12])
			}
		case "stsd":
			parseStsd(b, &t)
		}
	})
	if err != nil {
		return t, fmt.Errorf("trak: %w", err)
	}
	if t.id == 0 || t.timescale == 0 {
		return t, fmt.Errorf("trak: track id %d, timescale %d", t.id, t.timescale)
	}
	return t, nil
}

// walk visits the boxes of the containers on the way to a track's sample
// descriptions (mdia, minf, stbl).
func walk(body []byte, visit func(path, typ string, b []byte)) error {
	var inner error
	err := children(body, func(typ string, b []byte) bool {
		visit("", typ, b)
		switch typ {
		case "mdia", "minf", "stbl":
			inner = walk(b, visit)
			return inner == nil
		}
		return true
	})
	return errors.Join(err, inner)
}

// parseStsd reads the first sample entry: its codec string and, for
// video, its size.
func parseStsd(b []byte, t *track) {
	// version/flags, entry_count, then the entries.
	if len(b) < 8 {
		return
	}
	_ = children(b[8:], func(typ string, e []byte) bool {
		switch typ {
		case "avc1", "avc3":
			// SampleEntry (8) + VisualSampleEntry: 16 bytes predefined/reserved,
			// width, height (at 24 and 26), … 78 bytes before child boxes.
			if len(e) >= 78 {
				t.width = int(binary.BigEndian.Uint16(e[24:26]))
				t.height = int(binary.BigEndian.Uint16(e[26:28]))
				t.codec = typ
				_ = children(e[78:], func(typ string, c []byte) bool {
					if typ == "avcC" && len(c) >= 4 {
						t.codec = fmt.Sprintf("%s.%02x%02x%02x", "avc1", c[1], c[2], c[3])
						return false
					}
					return true
				})
			}
		case "hvc1", "hev1":
			if len(e) >= 28 {
				t.width = int(binary.BigEndian.Uint16(e[24:26]))
				t.height = int(binary.BigEndian.Uint16(e[26:28]))
			}
			t.codec = typ
		case "mp4a":
			// Every rung's audio is AAC LC.
			t.codec = "mp4a.40.2"
		case "Opus":
			t.codec = "opus"
		}
		return false
	})
}

// fragment is what one moof says about one track.
type fragment struct {
	trackID  uint32
	baseTime uint64 // tfdt, in the track's timescale
	duration uint64 // sum of the sample durations
	samples  int
	sync     bool // the first sample is a sync sample (a keyframe)
	// offset is the first sample's composition offset: its presentation
	// time is baseTime+offset (frames reordered for B-frames).
	offset int64
}

// mediaTime is n ticks of a track's timescale as a duration.
func mediaTime(n int64, timescale uint32) time.Duration {
	return time.Duration(float64(n) / float64(timescale) * float64(time.Second))
}

// sampleNonSync is sample_is_non_sync_sample in ISO BMFF sample flags.
const sampleNonSync = 0x00010000

// parseMoof reads the track fragments of a moof box's body. tracks gives
// the defaults a fragment may leave out.
func parseMoof(moof []byte, tracks []track) ([]fragment, error) {
	var out []fragment
	var ferr error
	err := children(moof, func(typ string, b []byte) bool {
		if typ != "traf" {
			return true
		}
		f, err := parseTraf(b, tracks)
		if err != nil {
			ferr = err
			return false
		}
		out = append(out, f)
		return true
	})
	if err = errors.Join(err, ferr); err != nil {
		return nil, fmt.Errorf("moof: %w", err)
	}
	return out, nil
}

func parseTraf(traf []byte, tracks []track) (fragment, error) {
	var f fragment
	var defDur, defFlags uint32
	var haveTfhd bool
	var truns [][]byte
	err := children(traf, func(typ string, b []byte) bool {
		switch typ {
		case "tfhd":
			if len(b) < 8 {
				return true
			}
			haveTfhd = true
			flags := binary.BigEndian.Uint32(b[0:4]) & 0xffffff
			f.trackID = binary.BigEndian.Uint32(b[4:8])
			for _, t := range tracks {
				if t.id == f.trackID {
					defDur, defFlags = t.defaultDuration, t.defaultFlags
				}
			}
			p := b[8:]
			take := func(n int) []byte {
				if len(p) < n {
					p = nil
					return nil
				}
				v := p[:n]
				p = p[n:]
				return v
			}
			if flags&0x1 != 0 {
				take(8) // base_data_offset
			}
			if flags&0x2 != 0 {
				take(4) // sample_description_index
			}
			if flags&0x8 != 0 {
				if v := take(4); v != nil {
					defDur = binary.BigEndian.Uint32(v)
				}
			}
			if flags&0x10 != 0 {
				take(4) // default_sample_size
			}
			if flags&0x20 != 0 {
				if v := take(4); v != nil {
					defFlags = binary.BigEndian.Uint32(v)
				}
			}
		case "tfdt":
			if len(b) >= 8 && b[0] == 0 {
				f.baseTime = uint64(binary.BigEndian.Uint32(b[4:8]))
			} else if len(b) >= 12 {
				f.baseTime = binary.BigEndian.Uint64(b[4:12])
			}
		case "trun":
			truns = append(truns, b)
		}
		return true
	})
	if err != nil {
		return f, fmt.Errorf("traf: %w", err)
	}
	if !haveTfhd {
		return f, errors.New("traf: no tfhd")
	}
	for i, b := range truns {
		if err := addTrun(&f, b, defDur, defFlags, i == 0); err != nil {
			return f, err
		}
	}
	return f, nil
}

// addTrun adds one trun's samples to f.
func addTrun(f *fragment, b []byte, defDur, defFlags uint32, first bool) error {
	if len(b) < 8 {
		return errors.New("trun: truncated")
	}
	version := b[0]
	flags := binary.BigEndian.Uint32(b[0:4]) & 0xffffff
	count := binary.BigEndian.Uint32(b[4:8])
	p := b[8:]
	if flags&0x1 != 0 {
		if len(p) < 4 {
			return errors.New("trun: truncated")
		}
		p = p[4:] // data_offset
	}
	firstFlags, haveFirst := uint32(0), false
	if flags&0x4 != 0 {
		if len(p) < 4 {
			return errors.New("trun: truncated")
		}
		firstFlags, haveFirst = binary.BigEndian.Uint32(p[:4]), true
		p = p[4:]
	}
	per := 0
	for _, bit := range []uint32{0x100, 0x200, 0x400, 0x800} {
		if flags&bit != 0 {
			per += 4
		}
	}
	if per > 0 && uint64(count)*uint64(per) > uint64(len(p)) || per == 0 && count > 1<<20 {
		return fmt.Errorf("trun: %d samples do not fit", count)
	}
	for i := uint32(0); i < count; i++ {
		dur, sflags := defDur, defFlags
		q := p[int(i)*per:]
		if flags&0x100 != 0 {
			dur = binary.BigEndian.Uint32(q[:4])
			q = q[4:]
		}
		if flags&0x200 != 0 {
			q = q[4:]
		}
		if flags&0x400 != 0 {
			sflags = binary.BigEndian.Uint32(q[:4])
			q = q[4:]
		}
		if i == 0 && haveFirst {
			sflags = firstFlags
		}
		if first && i == 0 {
			f.sync = sflags&sampleNonSync == 0
			if flags&0x800 != 0 {
				v := binary.BigEndian.Uint32(q[:4])
				if version == 0 {
					f.offset = int64(v)
				} else {
					f.offset = int64(int32(v))
				}
			}
		}
		f.duration += uint64(dur)
	}
	f.samples += int(count)
	return nil
}

// Keyframes reads a fragmented MP4 stream to its end and returns when each
// fragment that starts with a video keyframe presents it: its decode time
// plus its composition offset, as a player computes it. Renditions of one
// session must agree on these to the frame for a player to switch between
// them without a jump.
func Keyframes(in io.Reader) ([]time.Duration, error) {
	var tracks []track
	var video track
	var out []time.Duration
	err := readBoxes(in, func(b box) error {
		switch b.typ {
		case "moov":
			var err error
			if tracks, err = parseInit(b.body); err != nil {
				return err
			}
			for _, t := range tracks {
				if t.handler == handlerVideo {
					video = t
				}
			}
		case "moof":
			if video.id == 0 || video.timescale == 0 {
				return errors.New("fragment before a video track")
			}
			frags, err := parseMoof(b.body, tracks)
			if err != nil {
				return err
			}
			for _, f := range frags {
				if f.trackID == video.id && f.samples > 0 && f.sync {
					out = append(out, mediaTime(int64(f.baseTime)+f.offset, video.timescale))
				}
			}
		}
		return nil
	})
	return out, err
}
