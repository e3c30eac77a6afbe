package whip

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pion/sdp/v3"
)

// offer is what the handler needs to know of an SDP offer before it
// authorizes the publisher and builds a peer connection.
type offer struct {
	sdp      string
	hasAudio bool // an audio section offering Opus that the publisher sends
}

// maxMediaSections bounds the m= lines of an offer: a WHIP publisher sends
// one video and one audio section (a few more with simulcast layers).
const maxMediaSections = 16

// errOffer is a refused offer with the status it is answered with.
type errOffer struct {
	status int
	msg    string
}

func (e *errOffer) Error() string { return e.msg }

func badOffer(format string, args ...any) error {
	return &errOffer{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// parseOffer checks an SDP offer: it must parse, and offer H264 video (and
// Opus, if it offers audio at all) that the publisher sends. It never
// panics, whatever the input (FuzzOffer).
func parseOffer(body []byte) (offer, error) {
	if len(body) == 0 {
		return offer{}, badOffer("empty SDP offer")
	}
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(string(body)); err != nil {
		return offer{}, badOffer("malformed SDP offer: %v", err)
	}
	if len(desc.MediaDescriptions) == 0 {
		return offer{}, badOffer("SDP offer has no media sections")
	}
	if len(desc.MediaDescriptions) > maxMediaSections {
		return offer{}, badOffer("SDP offer has %d media sections, at most %d", len(desc.MediaDescriptions), maxMediaSections)
	}
	var video, videoH264, audio, audioOpus bool
	for _, m := range desc.MediaDescriptions {
		if m == nil {
			continue
		}
		if !sends(&desc, m) {
			continue
		}
		switch m.MediaName.Media {
		case "video":
			video = true
			videoH264 = videoH264 || hasCodec(m, "h264")
		case "audio":
			audio = true
			audioOpus = audioOpus || hasCodec(m, "opus")
		}
	}
	switch {
	case !video:
		return offer{}, &errOffer{status: http.StatusUnsupportedMediaType, msg: "SDP offer sends no video: H264 video is required"}
	case !videoH264:
		return offer{}, &errOffer{status: http.StatusUnsupportedMediaType, msg: "SDP offer has no H264 video codec: only H264 video is accepted (enable H264 in the encoder)"}
	case audio && !audioOpus:
		return offer{}, &errOffer{status: http.StatusUnsupportedMediaType, msg: "SDP offer has audio but no Opus codec: only Opus audio is accepted"}
	}
	return offer{sdp: string(body), hasAudio: audio}, nil
}

// sends reports whether a media section's direction lets the publisher
// send (sendonly or sendrecv; sendrecv is the default).
func sends(desc *sdp.SessionDescription, m *sdp.MediaDescription) bool {
	dir := "sendrecv"
	for _, attrs := range [][]sdp.Attribute{desc.Attributes, m.Attributes} {
		for _, a := range attrs {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				dir = a.Key
			}
		}
	}
	if m.MediaName.Port.Value == 0 && len(m.MediaName.Formats) > 0 && !bundled(m) {
		return false // a rejected or disabled section
	}
	return dir == "sendrecv" || dir == "sendonly"
}

// bundled reports whether a port-0 section is only bundle-only (RFC 8843),
// which still carries media.
func bundled(m *sdp.MediaDescription) bool {
	_, ok := m.Attribute("bundle-only")
	return ok
}

// hasCodec reports whether a media section maps one of its payload types
// to the named codec (case-insensitive, as in a=rtpmap:96 H264/90000).
func hasCodec(m *sdp.MediaDescription, name string) bool {
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		_, enc, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		codec, _, _ := strings.Cut(enc, "/")
		if strings.EqualFold(strings.TrimSpace(codec), name) {
			return true
		}
	}
	return false
}

// statusOf is the HTTP status an offer error is answered with.
func statusOf(err error) int {
	var eo *errOffer
	if errors.As(err, &eo) {
		return eo.status
	}
	return http.StatusBadRequest
}
