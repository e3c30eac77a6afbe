package flv

import (
	"bytes"
	"errors"
	"testing"
)

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, true, true)
	if err := w.WriteTag(Tag{Type: TagVideo, Timestamp: 0x12345678, Data: []byte{0x17, 0x00}}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTag(Tag{Type: TagAudio, Timestamp: 5, Data: []byte{0xaf}}); err != nil {
		t.Fatal(err)
	}
	want := []byte{
		'F', 'L', 'V', 1, 0x05, 0, 0, 0, 9, // header: audio+video
		0, 0, 0, 0, // PreviousTagSize0
		9, 0, 0, 2, 0x34, 0x56, 0x78, 0x12, 0, 0, 0, 0x17, 0x00, // video tag, ts extension byte 0x12
		0, 0, 0, 13,
		8, 0, 0, 1, 0, 0, 5, 0, 0, 0, 0, 0xaf,
		0, 0, 0, 12,
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("got  % x\nwant % x", buf.Bytes(), want)
	}
}

func TestWriterHeaderFlags(t *testing.T) {
	for _, tc := range []struct {
		audio, video bool
		flags        byte
	}{{false, false, 0}, {true, false, 4}, {false, true, 1}, {true, true, 5}} {
		var buf bytes.Buffer
		w := NewWriter(&buf, tc.audio, tc.video)
		if err := w.WriteHeader(); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteHeader(); err != nil { // idempotent
			t.Fatal(err)
		}
		if buf.Len() != 13 || buf.Bytes()[4] != tc.flags {
			t.Errorf("audio=%v video=%v: header % x", tc.audio, tc.video, buf.Bytes())
		}
	}
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter(&bytes.Buffer{}, true, true)
	if err := w.WriteTag(Tag{Type: 7}); err == nil {
		t.Error("want error for unknown tag type")
	}
	if err := w.WriteTag(Tag{Type: TagVideo, Data: make([]byte, MaxTagDataSize+1)}); err == nil {
		t.Error("want error for oversize tag")
	}
	boom := errors.New("boom")
	w = NewWriter(failingWriter{boom}, true, true)
	if err := w.WriteTag(Tag{Type: TagVideo}); !errors.Is(err, boom) {
		t.Errorf("err = %v, want wrapped boom", err)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }
