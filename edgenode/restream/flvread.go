package restream

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/livestreams/livestreams/edgenode/flv"
)

// readHeader reads an FLV file header and the first PreviousTagSize.
func readHeader(r *bufio.Reader) error {
	var h [13]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return fmt.Errorf("read flv header: %w", err)
	}
	if string(h[:3]) != "FLV" {
		return errors.New("read flv header: not an FLV stream")
	}
	if skip := int(binary.BigEndian.Uint32(h[5:9])) - 9; skip > 0 && skip < 1<<10 {
		if _, err := r.Discard(skip); err != nil {
			return fmt.Errorf("read flv header: %w", err)
		}
	}
	return nil
}

// readTag reads one tag and its trailing PreviousTagSize; io.EOF at a tag
// boundary is the end of the stream.
func readTag(r *bufio.Reader) (flv.Tag, error) {
	var h [11]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return flv.Tag{}, fmt.Errorf("read flv tag: %w", err)
		}
		return flv.Tag{}, err
	}
	size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	t := flv.Tag{Type: h[0] & 0x1f, Timestamp: uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]) | uint32(h[7])<<24,
		Data: make([]byte, size)}
	if _, err := io.ReadFull(r, t.Data); err != nil {
		return flv.Tag{}, fmt.Errorf("read flv tag: %w", unexpected(err))
	}
	if _, err := r.Discard(4); err != nil {
		return flv.Tag{}, fmt.Errorf("read flv tag: %w", unexpected(err))
	}
	return t, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// tagKind says what a tag is to a relay that (re)starts: setup a decoder
// needs first (metadata, sequence headers), a video keyframe to start
// at, or neither.
func tagKind(t flv.Tag) (setup, key bool) {
	d := t.Data
	switch t.Type {
	case flv.TagScript:
		return true, false
	case flv.TagVideo:
		if len(d) < 2 {
			return false, false
		}
		if d[0]&0x80 != 0 { // enhanced RTMP
			setup = d[0]&0x0f == 0
			return setup, !setup && (d[0]>>4)&0x07 == 1
		}
		codec := d[0] & 0x0f
		setup = (codec == 7 || codec == 12) && d[1] == 0
		return setup, !setup && d[0]>>4 == 1
	case flv.TagAudio:
		return len(d) >= 2 && d[0]>>4 == 10 && d[1] == 0, false
	}
	return false, false
}
