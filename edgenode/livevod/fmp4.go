package livevod

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The few boxes of fragmented MP4 this package reads: enough to find the
// video track of an init segment (its id, timescale and default sample
// duration) and the media time a file's fragments of that track cover. It
// reads box headers and skips media data, so a recording of hours costs a
// few reads per fragment.

// maxBoxRead bounds the metadata box (moov, moof) read into memory.
const maxBoxRead = 16 << 20

// track is the video track of an init segment.
type track struct {
	id         uint32
	timescale  uint32
	defaultDur uint32 // trex default_sample_duration
}

// span is the media time a file's fragments of one track cover, in the
// track's timescale: from the earliest base decode time to the latest
// end of a fragment.
type span struct {
	start, end uint64
	fragments  int
}

type box struct {
	typ  string
	body []byte
}

// children splits b into the boxes it holds.
func children(b []byte) ([]box, error) {
	var out []box
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, errors.New("truncated box header")
		}
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		hdr := uint64(8)
		switch size {
		case 0:
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return nil, errors.New("truncated box header")
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return nil, fmt.Errorf("box %q of %d bytes in %d", typ, size, len(b))
		}
		out = append(out, box{typ: typ, body: b[hdr:size]})
		b = b[size:]
	}
	return out, nil
}

// walk calls fn for each top-level box of r, reading the body only of the
// types in read (others are skipped with a seek).
func walk(r io.ReadSeeker, read map[string]bool, fn func(box) error) error {
	var hdr [16]byte
	for {
		if _, err := io.ReadFull(r, hdr[:8]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read box header: %w", err)
		}
		size := uint64(binary.BigEndian.Uint32(hdr[:]))
		typ := string(hdr[4:8])
		n := uint64(8)
		switch size {
		case 0:
			// To the end of the file: only media data is written so.
			if read[typ] {
				return fmt.Errorf("box %q without a size", typ)
			}
			return nil
		case 1:
			if _, err := io.ReadFull(r, hdr[8:16]); err != nil {
				return fmt.Errorf("read box header: %w", err)
			}
			size, n = binary.BigEndian.Uint64(hdr[8:]), 16
		}
		if size < n {
			return fmt.Errorf("box %q of %d bytes", typ, size)
		}
		body := size - n
		if !read[typ] {
			if _, err := r.Seek(int64(body), io.SeekCurrent); err != nil {
				return fmt.Errorf("skip box %q: %w", typ, err)
			}
			continue
		}
		if body > maxBoxRead {
			return fmt.Errorf("box %q of %d bytes: too large", typ, size)
		}
		// Read what is there rather than allocate what the header claims.
		b, err := io.ReadAll(io.LimitReader(r, int64(body)))
		if err != nil {
			return fmt.Errorf("read box %q: %w", typ, err)
		}
		if uint64(len(b)) != body {
			return fmt.Errorf("read box %q: %w", typ, io.ErrUnexpectedEOF)
		}
		if err := fn(box{typ: typ, body: b}); err != nil {
			return err
		}
	}
}

// find returns the first child of b of type typ.
func find(bs []box, typ string) (box, bool) {
	for _, b := range bs {
		if b.typ == typ {
			return b, true
		}
	}
	return box{}, false
}

// fullBox returns a full box's version, flags and the rest.
func fullBox(b []byte) (byte, uint32, []byte, error) {
	if len(b) < 4 {
		return 0, 0, nil, errors.New("truncated full box")
	}
	return b[0], binary.BigEndian.Uint32(b) & 0xffffff, b[4:], nil
}

// readInit finds the video track of an init segment (or of a recording,
// whose moov comes first).
func readInit(r io.ReadSeeker) (track, error) {
	var moov []byte
	err := walk(r, map[string]bool{"moov": true}, func(b box) error {
		if moov == nil {
			moov = b.body
		}
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return track{}, err
	}
	if moov == nil {
		return track{}, errors.New("no moov box")
	}
	return parseMoov(moov)
}

var errStop = errors.New("stop")

func parseMoov(moov []byte) (track, error) {
	bs, err := children(moov)
	if err != nil {
		return track{}, fmt.Errorf("moov: %w", err)
	}
	var t track
	for _, trak := range bs {
		if trak.typ != "trak" {
			continue
		}
		tb, err := children(trak.body)
		if err != nil {
			return track{}, fmt.Errorf("trak: %w", err)
		}
		tkhd, ok1 := find(tb, "tkhd")
		mdia, ok2 := find(tb, "mdia")
		if !ok1 || !ok2 {
			continue
		}
		mb, err := children(mdia.body)
		if err != nil {
			return track{}, fmt.Errorf("mdia: %w", err)
		}
		hdlr, ok1 := find(mb, "hdlr")
		mdhd, ok2 := find(mb, "mdhd")
		if !ok1 || !ok2 || len(hdlr.body) < 12 || string(hdlr.body[8:12]) != "vide" {
			continue
		}
		v, _, rest, err := fullBox(tkhd.body)
		if err != nil {
			return track{}, err
		}
		off := 8
		if v == 1 {
			off = 16
		}
		if len(rest) < off+4 {
			return track{}, errors.New("truncated tkhd")
		}
		t.id = binary.BigEndian.Uint32(rest[off:])
		v, _, rest, err = fullBox(mdhd.body)
		if err != nil {
			return track{}, err
		}
		if len(rest) < off+4 {
			return track{}, errors.New("truncated mdhd")
		}
		t.timescale = binary.BigEndian.Uint32(rest[off:])
		break
	}
	if t.id == 0 || t.timescale == 0 {
		return track{}, errors.New("no video track with a timescale")
	}
	if mvex, ok := find(bs, "mvex"); ok {
		xb, err := children(mvex.body)
		if err != nil {
			return track{}, fmt.Errorf("mvex: %w", err)
		}
		for _, trex := range xb {
			if trex.typ != "trex" {
				continue
			}
			_, _, rest, err := fullBox(trex.body)
			if err != nil || len(rest) < 12 {
				return track{}, errors.New("truncated trex")
			}
			if binary.BigEndian.Uint32(rest) == t.id {
				t.defaultDur = binary.BigEndian.Uint32(rest[8:])
			}
		}
	}
	return t, nil
}

// readSpan returns the media time r's fragments of t cover.
func readSpan(r io.ReadSeeker, t track) (span, error) {
	var s span
	err := walk(r, map[string]bool{"moof": true}, func(b box) error {
		start, dur, ok, err := parseMoof(b.body, t)
		if err != nil {
			return fmt.Errorf("moof %d: %w", s.fragments+1, err)
		}
		if !ok {
			return nil
		}
		if s.fragments == 0 || start < s.start {
			s.start = start
		}
		s.end = max(s.end, start+dur)
		s.fragments++
		return nil
	})
	return s, err
}

// parseMoof returns the base decode time and the duration of t's samples
// in a moof (ok false when it holds none of t).
func parseMoof(moof []byte, t track) (start, dur uint64, ok bool, err error) {
	bs, err := children(moof)
	if err != nil {
		return 0, 0, false, err
	}
	for _, traf := range bs {
		if traf.typ != "traf" {
			continue
		}
		tb, err := children(traf.body)
		if err != nil {
			return 0, 0, false, fmt.Errorf("traf: %w", err)
		}
		tfhd, ok1 := find(tb, "tfhd")
		tfdt, ok2 := find(tb, "tfdt")
		if !ok1 || !ok2 {
			return 0, 0, false, errors.New("traf without tfhd or tfdt")
		}
		_, flags, rest, err := fullBox(tfhd.body)
		if err != nil || len(rest) < 4 {
			return 0, 0, false, errors.New("truncated tfhd")
		}
		if binary.BigEndian.Uint32(rest) != t.id {
			continue
		}
		def := t.defaultDur
		off := 4
		if flags&0x01 != 0 {
			off += 8
		}
		if flags&0x02 != 0 {
			off += 4
		}
		if flags&0x08 != 0 {
			if len(rest) < off+4 {
				return 0, 0, false, errors.New("truncated tfhd")
			}
			def = binary.BigEndian.Uint32(rest[off:])
		}
		v, _, rest, err := fullBox(tfdt.body)
		if err != nil {
			return 0, 0, false, err
		}
		switch {
		case v == 1 && len(rest) >= 8:
			start = binary.BigEndian.Uint64(rest)
		case v == 0 && len(rest) >= 4:
			start = uint64(binary.BigEndian.Uint32(rest))
		default:
			return 0, 0, false, errors.New("truncated tfdt")
		}
		for _, trun := range tb {
			if trun.typ != "trun" {
				continue
			}
			d, err := trunDuration(trun.body, def)
			if err != nil {
				return 0, 0, false, err
			}
			dur += d
		}
		return start, dur, true, nil
	}
	return 0, 0, false, nil
}

// trunDuration sums the sample durations of a trun.
func trunDuration(b []byte, def uint32) (uint64, error) {
	_, flags, rest, err := fullBox(b)
	if err != nil || len(rest) < 4 {
		return 0, errors.New("truncated trun")
	}
	count := uint64(binary.BigEndian.Uint32(rest))
	rest = rest[4:]
	if flags&0x01 != 0 {
		rest = rest[min(4, len(rest)):]
	}
	if flags&0x04 != 0 {
		rest = rest[min(4, len(rest)):]
	}
	per := 0
	for _, f := range []uint32{0x100, 0x200, 0x400, 0x800} {
		if flags&f != 0 {
			per += 4
		}
	}
	if flags&0x100 == 0 {
		return count * uint64(def), nil
	}
	if uint64(len(rest)) < count*uint64(per) {
		return 0, fmt.Errorf("trun of %d samples in %d bytes", count, len(rest))
	}
	var d uint64
	for i := range count {
		d += uint64(binary.BigEndian.Uint32(rest[i*uint64(per):]))
	}
	return d, nil
}
