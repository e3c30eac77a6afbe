// Package whip is the WebRTC-HTTP ingestion endpoint (WHIP, RFC 9725) of an
// edge: browsers and OBS 30+ go live by POSTing an SDP offer with their
// stream key as a bearer token. It is an ingest adapter in the sense of the
// live core: a Server turns each WebRTC publish into an MPEG-TS byte
// stream with the source's probed properties and hands it to a Sink that
// the edge provides (live.Session fits it through a few lines of glue).
//
// The HTTP side: POST <base>/<anything> with Content-Type application/sdp
// and Authorization: Bearer KEY asks Config.Publish whether the key may go
// live (a refusal is answered 401/403/409/503, see Refuse), negotiates H264
// video and Opus audio only (an offer without H264 is 415 naming it), and
// answers 201 Created with the complete SDP answer (ICE gathering finishes
// before the answer: no trickle), a Location <base>/resource/<id> and an
// ETag. DELETE on the Location ends the session (its 128-bit random id is
// the capability: no key is asked again). PATCH (trickle ICE and ICE
// restarts) is answered 405: publishers fall back to the full answer, which
// is enough for a server with host candidates on a public address. OPTIONS
// answers CORS preflights. Bodies are bounded (64 KiB of SDP by default),
// and bad SDP is a 400, never a crash (FuzzOffer).
//
// The media side, the simplest robust route into the one ffmpeg the live
// core runs: RTP is depacketized here (pion's H264 depacketizer behind its
// sample builder, which reorders and drops incomplete frames), and
// mediacommon's MPEG-TS writer muxes H264 (Annex-B, an access-unit
// delimiter and the last SPS/PPS put back before every IDR that lacks
// them) and Opus (MPEG-TS carries Opus natively, so ffmpeg decodes it and
// the ladder encodes AAC; no second pipe or process). Nothing is written
// before the first keyframe: a PLI asks for one when the video track
// arrives and every 2 s until it comes, again after frames were lost
// beyond what NACK retransmissions recovered, and whenever 2 s pass
// without one (a browser sends keyframes only when asked, and a late
// reader of the source, a restream relay, can start only at one). Timestamps come from RTP, unwrapped
// to 64 bits, each track anchored to the arrival time of its first packet
// (so audio and video are aligned by arrival, within the network jitter of
// those first packets), and kept strictly increasing. RTCP sender reports
// are not used for alignment: a browser's first one comes a second or more
// after the media, and re-anchoring then would make timestamps jump.
// WebRTC encoders send no B-frames, so DTS is PTS.
//
// A session ends on DELETE, when the peer connection fails or closes, when
// the Server's context ends, when the Sink refuses a write, or when no
// media has arrived for Config.StallTimeout (8 s); the Sink is then closed
// with nil for a clean unpublish or with why.
//
// Networking: one UDP port for all sessions (ICE UDP mux on
// Config.UDPAddr), Config.PublicIP advertised in place of the host address
// for 1:1 NAT, and Config.LoopbackOnly (tests, dev) for host candidates on
// loopback only. mDNS candidates are off: a server needs none.
//
// It deliberately knows nothing of stream keys beyond passing the bearer
// token to Publish, nothing of the control plane, the live core, ffmpeg or
// HLS; it does no transcoding, no simulcast, no TURN or STUN (a server
// with a public address needs neither), and plays nothing back (no WHEP).
package whip
