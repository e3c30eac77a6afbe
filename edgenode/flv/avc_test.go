package flv

import (
	"encoding/hex"
	"testing"
)

// SPSs written by x264 (ffmpeg 5.1) for the sizes named; ffprobe agrees.
var testSPS = []struct {
	name          string
	hex           string
	profile       uint8
	width, height int
}{
	{"640x360 high", "6764001eacd940a02ff970110000030001000003003c0f162d96", 100, 640, 360},
	{"640x360 baseline", "6742c01ed900a02ff970110000030001000003003c0f162e48", 66, 640, 360},
	{"1920x1080 crop", "6742c028da01e0089f970110000003001000000303c0f1832a", 66, 1920, 1080},
	{"642x362 yuv444", "67f4001e919b281485fc7cf80880000003008000001e078b16cb", 244, 642, 362},
	{"720x576 interlaced", "6764001facd940b424d80880000003008000001e0f8b16cb", 100, 720, 576},
	{"1920x1080 interlaced", "67640028acd94078044fde0220000003002000000783e2c5b2c0", 100, 1920, 1080},
	{"1280x720 scaling matrix", "6764001facd9405005bb0110000003001000000303c0f1831960", 100, 1280, 720},
	{"1278x718 yuv422", "677a001fbcd9405005beaf0110000003001000000303c0f1831960", 122, 1278, 718},
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSPS(t *testing.T) {
	for _, tc := range testSPS {
		t.Run(tc.name, func(t *testing.T) {
			sps, err := ParseSPS(mustHex(t, tc.hex))
			if err != nil {
				t.Fatal(err)
			}
			if sps.ProfileIDC != tc.profile || sps.Width != tc.width || sps.Height != tc.height {
				t.Fatalf("got %+v, want profile %d %dx%d", sps, tc.profile, tc.width, tc.height)
			}
		})
	}
}

func TestParseSPSErrors(t *testing.T) {
	good := mustHex(t, testSPS[0].hex)
	for name, b := range map[string][]byte{
		"empty":     nil,
		"not sps":   append([]byte{0x68}, good[1:]...),
		"truncated": good[:8],
		"all ones":  {0x67, 0x64, 0, 0x1e, 0xff, 0xff, 0xff, 0xff},
		"all zeros": {0x67, 0x64, 0, 0x1e, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		if _, err := ParseSPS(b); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}

// avcSequenceHeader builds an FLV video tag body holding an AVC sequence
// header with the given SPS.
func avcSequenceHeader(sps []byte) []byte {
	b := []byte{0x17, 0x00, 0, 0, 0} // keyframe, AVC, sequence header, cts 0
	b = append(b, 1, sps[1], sps[2], sps[3], 0xff, 0xe1, byte(len(sps)>>8), byte(len(sps)))
	b = append(b, sps...)
	return append(b, 1, 0, 4, 0x68, 0xeb, 0xe3, 0xcb) // one PPS
}

func TestParseAVCDecoderConfig(t *testing.T) {
	tag := avcSequenceHeader(mustHex(t, testSPS[2].hex))
	sps, err := ParseAVCDecoderConfig(tag[5:])
	if err != nil || sps.Width != 1920 || sps.Height != 1080 {
		t.Fatalf("got %+v, %v", sps, err)
	}
	for name, rec := range map[string][]byte{
		"short":       tag[5:9],
		"version":     append([]byte{2}, tag[6:]...),
		"no sps":      {1, 0x64, 0, 0x1e, 0xff, 0xe0},
		"sps overrun": {1, 0x64, 0, 0x1e, 0xff, 0xe1, 0x10, 0x00, 0x67},
	} {
		if _, err := ParseAVCDecoderConfig(rec); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}

func FuzzParseSPS(f *testing.F) {
	for _, tc := range testSPS {
		f.Add(mustHex(f, tc.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sps, err := ParseSPS(b)
		if err != nil {
			return
		}
		if sps.Width <= 0 || sps.Height <= 0 || sps.Width > maxDimension || sps.Height > maxDimension {
			t.Fatalf("accepted out-of-range size %dx%d", sps.Width, sps.Height)
		}
	})
}
