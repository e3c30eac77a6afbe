package restream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/livestreams/livestreams/edgenode/flv"
	"github.com/livestreams/livestreams/edgenode/live"
)

// TestArgs: the relay's ffmpeg copies video (never encodes it) from stdin
// to FLV on fd 3, copies AAC audio and encodes Opus (which FLV cannot
// carry) to AAC, and its command holds no URL.
func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		src   live.Source
		audio string
	}{
		{live.Source{Format: live.FLV, AudioCodec: "aac"}, "-c:a copy"},
		{live.Source{Format: live.MPEGTS, AudioCodec: "aac"}, "-c:a copy"},
		{live.Source{Format: live.MPEGTS}, "-c:a copy"},
		{live.Source{Format: live.MPEGTS, AudioCodec: "opus"}, "-c:a aac"},
	} {
		args := Args(tc.src)
		joined := strings.Join(args, " ")
		if !strings.Contains(joined, "-f "+string(tc.src.Format)+" -i pipe:0") || !strings.Contains(joined, "-c:v copy") ||
			!strings.Contains(joined, tc.audio) || args[len(args)-1] != "pipe:3" || !slices.Contains(args, "flv") {
			t.Errorf("Args(%+v) = %v", tc.src, args)
		}
		if strings.Contains(joined, "rtmp") || strings.Contains(joined, "libx264") {
			t.Errorf("Args(%+v) names a URL or a video encoder: %v", tc.src, args)
		}
	}
}

// TestReadFLV: the reader returns the tags an flv.Writer wrote, io.EOF at
// the end, and an error for a cut tag; tagKind tells setup from keyframes.
func TestReadFLV(t *testing.T) {
	var buf bytes.Buffer
	w := flv.NewWriter(&buf, true, true)
	tags := []flv.Tag{
		{Type: flv.TagScript, Data: []byte{2, 0, 10, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a'}},
		{Type: flv.TagVideo, Data: []byte{0x17, 0, 0, 0, 0, 1}},
		{Type: flv.TagAudio, Data: []byte{0xaf, 0, 0x12, 0x10}},
		{Type: flv.TagVideo, Timestamp: 0x01020304, Data: []byte{0x17, 1, 0, 0, 0, 9, 9}},
		{Type: flv.TagVideo, Timestamp: 33, Data: []byte{0x27, 1, 0, 0, 0, 7}},
	}
	for _, tg := range tags {
		if err := w.WriteTag(tg); err != nil {
			t.Fatal(err)
		}
	}
	kinds := [][2]bool{{true, false}, {true, false}, {true, false}, {false, true}, {false, false}}
	r := bufio.NewReader(bytes.NewReader(buf.Bytes()))
	if err := readHeader(r); err != nil {
		t.Fatal(err)
	}
	for i, want := range tags {
		got, err := readTag(r)
		if err != nil || got.Type != want.Type || got.Timestamp != want.Timestamp || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("tag %d: %+v, %v", i, got, err)
		}
		if setup, key := tagKind(got); [2]bool{setup, key} != kinds[i] {
			t.Errorf("tag %d: setup %v key %v, want %v", i, setup, key, kinds[i])
		}
	}
	if _, err := readTag(r); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last tag: %v", err)
	}
	cut := bufio.NewReader(bytes.NewReader(buf.Bytes()[:buf.Len()-3]))
	readHeader(cut)
	var err error
	for err == nil {
		_, err = readTag(cut)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a cut tag: %v", err)
	}
}
