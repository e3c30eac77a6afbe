package flv

import (
	"errors"
	"reflect"
	"testing"

	"github.com/livestreams/livestreams/edgenode/rtmp/amf0"
)

// ffmpegMetadata is onMetaData as ffmpeg's flv muxer writes it for H.264
// and AAC.
func ffmpegMetadata(t testing.TB, wrap bool) []byte {
	t.Helper()
	vals := []any{"onMetaData", amf0.ECMAArray{
		{Key: "duration", Value: 0.0},
		{Key: "width", Value: 640.0},
		{Key: "height", Value: 360.0},
		{Key: "videodatarate", Value: 0.0},
		{Key: "framerate", Value: 30.0},
		{Key: "videocodecid", Value: 7.0},
		{Key: "audiodatarate", Value: 125.0},
		{Key: "audiosamplerate", Value: 44100.0},
		{Key: "stereo", Value: false},
		{Key: "audiocodecid", Value: 10.0},
		{Key: "encoder", Value: "Lavf59.27.100"},
	}}
	if wrap {
		vals = append([]any{"@setDataFrame"}, vals...)
	}
	b, err := amf0.Encode(vals...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encode(t testing.TB, vals ...any) []byte {
	t.Helper()
	b, err := amf0.Encode(vals...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseMetadata(t *testing.T) {
	full := StreamInfo{Width: 640, Height: 360, FrameRate: 30, HasAudio: true, HasVideo: true, VideoCodec: "h264", AudioCodec: "aac"}
	tests := []struct {
		name string
		data []byte
		want StreamInfo
	}{
		{"ffmpeg", ffmpegMetadata(t, false), full},
		{"setDataFrame wrapped", ffmpegMetadata(t, true), full},
		{"object and fourcc strings", encode(t, "onMetaData", amf0.Object{
			{Key: "videocodecid", Value: "hvc1"}, {Key: "audiocodecid", Value: "Opus"},
			{Key: "width", Value: 3840.0}, {Key: "height", Value: 2160.0}, {Key: "videoframerate", Value: 59.94},
		}), StreamInfo{Width: 3840, Height: 2160, FrameRate: 59.94, HasAudio: true, HasVideo: true, VideoCodec: "hevc", AudioCodec: "opus"}},
		{"fourcc as number", encode(t, "onMetaData", amf0.ECMAArray{{Key: "videocodecid", Value: float64(0x61763031)}}),
			StreamInfo{HasVideo: true, VideoCodec: "av1"}},
		{"video only", encode(t, "onMetaData", amf0.ECMAArray{{Key: "width", Value: 1280.0}, {Key: "height", Value: 720.0}}),
			StreamInfo{Width: 1280, Height: 720, HasVideo: true}},
		{"garbage values ignored", encode(t, "onMetaData", amf0.ECMAArray{
			{Key: "width", Value: -1.0}, {Key: "height", Value: "720"}, {Key: "framerate", Value: 1e9},
			{Key: "videocodecid", Value: 1.5}, {Key: "audiocodecid", Value: nil},
		}), StreamInfo{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMetadata(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	if _, err := ParseMetadata(encode(t, "onCuePoint", amf0.Object{})); !errors.Is(err, ErrNotMetadata) {
		t.Errorf("onCuePoint: err = %v", err)
	}
	if _, err := ParseMetadata([]byte{0x02, 0x00}); err == nil {
		t.Error("truncated: want error")
	}
}

func TestObserve(t *testing.T) {
	var si StreamInfo
	// Metadata claims 640x360; the SPS says 1920x1080 and wins whichever comes first.
	steps := []Tag{
		{Type: TagScript, Data: ffmpegMetadata(t, false)},
		{Type: TagVideo, Data: avcSequenceHeader(mustHex(t, testSPS[2].hex))},
		{Type: TagAudio, Data: []byte{0xaf, 0x00, 0x12, 0x10}},
		{Type: TagScript, Data: ffmpegMetadata(t, false)},
	}
	for _, tag := range steps {
		if err := si.Observe(tag); err != nil {
			t.Fatal(err)
		}
	}
	want := StreamInfo{Width: 1920, Height: 1080, FrameRate: 30, HasAudio: true, HasVideo: true, VideoCodec: "h264", AudioCodec: "aac",
		VideoProfile: 66} // the SPS is Baseline
	if si != want {
		t.Fatalf("got %+v\nwant %+v", si, want)
	}

	var bad StreamInfo
	if err := bad.Observe(Tag{Type: TagVideo, Data: []byte{0x17, 0x00, 0, 0, 0, 1}}); err == nil {
		t.Error("truncated sequence header: want error")
	}
	if !bad.HasVideo || bad.VideoCodec != "h264" {
		t.Errorf("codec still known from tag header: %+v", bad)
	}
	var enhanced StreamInfo
	if err := enhanced.Observe(Tag{Type: TagVideo, Data: []byte{0x90, 'h', 'v', 'c', '1'}}); err != nil || enhanced.VideoCodec != "hevc" {
		t.Errorf("enhanced hevc: %+v, %v", enhanced, err)
	}
}

func FuzzParseMetadata(f *testing.F) {
	f.Add(ffmpegMetadata(f, false))
	f.Add(ffmpegMetadata(f, true))
	f.Add(encode(f, "onMetaData", amf0.Object{{Key: "videocodecid", Value: "avc1"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var obs StreamInfo
		obs.Observe(Tag{Type: TagScript, Data: b})
		obs.Observe(Tag{Type: TagVideo, Data: b})
		obs.Observe(Tag{Type: TagAudio, Data: b})
		si, err := ParseMetadata(b)
		if err != nil {
			return
		}
		if si.Width < 0 || si.Width > maxDimension || si.Height < 0 || si.Height > maxDimension || si.FrameRate < 0 || si.FrameRate > 1000 {
			t.Fatalf("accepted out-of-range %+v", si)
		}
	})
}

// OBS declares its video bitrate in onMetaData; the pass-through of the
// top rung needs it.
func TestMetadataVideoKbps(t *testing.T) {
	md := encode(t, "onMetaData", amf0.ECMAArray{{Key: "videodatarate", Value: 2500.0}, {Key: "width", Value: 1280.0}, {Key: "height", Value: 720.0}})
	si, err := ParseMetadata(md)
	if err != nil || si.VideoKbps != 2500 {
		t.Fatalf("VideoKbps %d, err %v; want 2500", si.VideoKbps, err)
	}
}
