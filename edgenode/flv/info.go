package flv

import (
	"errors"
	"fmt"
	"math"

	"github.com/livestreams/livestreams/edgenode/rtmp/amf0"
)

// StreamInfo describes a published stream well enough to plan its
// transcode. Codec names are ffmpeg's ("h264", "hevc", "aac", …); an
// unrecognised codec is named by its FLV id or FourCC.
type StreamInfo struct {
	Width, Height          int
	FrameRate              float64
	HasAudio, HasVideo     bool
	VideoCodec, AudioCodec string
	// VideoProfile is the H.264 profile_idc of the sequence header (0
	// when unknown); VideoKbps the encoder's declared video bitrate
	// (onMetaData videodatarate, 0 when absent).
	VideoProfile int
	VideoKbps    int
}

// ErrNotMetadata reports script data that is not onMetaData.
var ErrNotMetadata = errors.New("flv: script data is not onMetaData")

// ParseMetadata reads an onMetaData script tag body, with or without the
// @setDataFrame wrapper RTMP publishers put around it. Fields that are
// missing, of the wrong type or out of range are left zero.
func ParseMetadata(data []byte) (StreamInfo, error) {
	vals, err := amf0.DecodeAll(data)
	if err != nil {
		return StreamInfo{}, fmt.Errorf("flv: decode metadata: %w", err)
	}
	if len(vals) > 0 && vals[0] == "@setDataFrame" {
		vals = vals[1:]
	}
	if len(vals) < 2 || vals[0] != "onMetaData" {
		return StreamInfo{}, ErrNotMetadata
	}
	md := vals[1]
	var si StreamInfo
	if w, ok := amf0.LookupNumber(md, "width"); ok && validDimension(w) {
		si.Width = int(w)
	}
	if h, ok := amf0.LookupNumber(md, "height"); ok && validDimension(h) {
		si.Height = int(h)
	}
	for _, key := range []string{"framerate", "videoframerate", "fps"} {
		if f, ok := amf0.LookupNumber(md, key); ok && f > 0 && f <= 1000 {
			si.FrameRate = f
			break
		}
	}
	if r, ok := amf0.LookupNumber(md, "videodatarate"); ok && r > 0 && r < 1e6 {
		si.VideoKbps = int(math.Round(r))
	}
	if v, ok := amf0.Lookup(md, "videocodecid"); ok {
		si.VideoCodec = metadataCodec(v, videoCodecName)
		si.HasVideo = si.VideoCodec != ""
	}
	if v, ok := amf0.Lookup(md, "audiocodecid"); ok {
		si.AudioCodec = metadataCodec(v, audioCodecName)
		si.HasAudio = si.AudioCodec != ""
	}
	if si.Width > 0 && si.Height > 0 {
		si.HasVideo = true
	}
	return si, nil
}

func validDimension(f float64) bool {
	return f >= 1 && f <= maxDimension && f == math.Trunc(f)
}

// metadataCodec names a codec id from onMetaData: a number that is an FLV
// codec id or (enhanced RTMP) a FourCC, or a FourCC string.
func metadataCodec(v any, byID func(uint8) string) string {
	switch x := v.(type) {
	case float64:
		if x < 0 || x > math.MaxUint32 || x != math.Trunc(x) {
			return ""
		}
		n := uint32(x)
		if n < 16 {
			return byID(uint8(n))
		}
		return fourCCName(string([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}))
	case string:
		if len(x) == 4 {
			return fourCCName(x)
		}
	}
	return ""
}

func videoCodecName(id uint8) string {
	switch id {
	case 2:
		return "flv1"
	case 3:
		return "flashsv"
	case 4:
		return "vp6f"
	case 5:
		return "vp6a"
	case 6:
		return "flashsv2"
	case 7:
		return "h264"
	case 12:
		return "hevc" // not in the FLV spec, but widely used before enhanced RTMP
	}
	return fmt.Sprintf("flv-video-%d", id)
}

func audioCodecName(id uint8) string {
	switch id {
	case 0, 3:
		return "pcm"
	case 1:
		return "adpcm_swf"
	case 2, 14:
		return "mp3"
	case 4, 5, 6:
		return "nellymoser"
	case 7:
		return "pcm_alaw"
	case 8:
		return "pcm_mulaw"
	case 10:
		return "aac"
	case 11:
		return "speex"
	}
	return fmt.Sprintf("flv-audio-%d", id)
}

func fourCCName(cc string) string {
	switch cc {
	case "avc1":
		return "h264"
	case "hvc1":
		return "hevc"
	case "av01":
		return "av1"
	case "vp09":
		return "vp9"
	case "mp4a":
		return "aac"
	case "Opus":
		return "opus"
	case ".mp3":
		return "mp3"
	case "fLaC":
		return "flac"
	case "ac-3":
		return "ac3"
	case "ec-3":
		return "eac3"
	}
	for i := range len(cc) {
		if cc[i] < 0x20 || cc[i] > 0x7e {
			return "unknown"
		}
	}
	return cc
}

// Observe updates s from a tag of the stream: audio and video tags name
// their codec and mark the track present, an H.264 sequence header sets
// the picture size (overriding metadata, which encoders sometimes get
// wrong), and onMetaData fills fields still unknown. An error means the
// tag was malformed; s keeps what it knew.
func (s *StreamInfo) Observe(t Tag) error {
	switch t.Type {
	case TagAudio:
		return s.observeAudio(t.Data)
	case TagVideo:
		return s.observeVideo(t.Data)
	case TagScript:
		md, err := ParseMetadata(t.Data)
		if errors.Is(err, ErrNotMetadata) {
			return nil
		}
		if err != nil {
			return err
		}
		s.fillFrom(md)
	}
	return nil
}

func (s *StreamInfo) fillFrom(md StreamInfo) {
	if s.Width == 0 && s.Height == 0 {
		s.Width, s.Height = md.Width, md.Height
	}
	if s.FrameRate == 0 {
		s.FrameRate = md.FrameRate
	}
	if s.VideoKbps == 0 {
		s.VideoKbps = md.VideoKbps
	}
	if s.VideoCodec == "" {
		s.VideoCodec = md.VideoCodec
	}
	if s.AudioCodec == "" {
		s.AudioCodec = md.AudioCodec
	}
	s.HasVideo = s.HasVideo || md.HasVideo
	s.HasAudio = s.HasAudio || md.HasAudio
}

func (s *StreamInfo) observeAudio(d []byte) error {
	if len(d) < 1 {
		return errors.New("flv: empty audio tag")
	}
	s.HasAudio = true
	format := d[0] >> 4
	if format == 9 { // enhanced RTMP: FourCC follows
		if len(d) < 5 {
			return errors.New("flv: enhanced audio tag too short")
		}
		s.AudioCodec = fourCCName(string(d[1:5]))
		return nil
	}
	s.AudioCodec = audioCodecName(format)
	return nil
}

func (s *StreamInfo) observeVideo(d []byte) error {
	if len(d) < 1 {
		return errors.New("flv: empty video tag")
	}
	s.HasVideo = true
	var config []byte
	if d[0]&0x80 != 0 { // enhanced RTMP: packet type in the low bits, FourCC follows
		if len(d) < 5 {
			return errors.New("flv: enhanced video tag too short")
		}
		s.VideoCodec = fourCCName(string(d[1:5]))
		if d[0]&0x0f == 0 && s.VideoCodec == "h264" { // sequence start
			config = d[5:]
		}
	} else {
		s.VideoCodec = videoCodecName(d[0] & 0x0f)
		if s.VideoCodec == "h264" && len(d) >= 5 && d[1] == 0 { // AVC sequence header
			config = d[5:]
		}
	}
	if config == nil {
		return nil
	}
	sps, err := ParseAVCDecoderConfig(config)
	if err != nil {
		return err
	}
	s.Width, s.Height = sps.Width, sps.Height
	s.VideoProfile = int(sps.ProfileIDC)
	return nil
}
