// Package flv writes FLV streams and reads the stream description an FLV
// (or RTMP) publisher sends: onMetaData script data and the H.264
// sequence header's SPS.
//
// It is a pure codec: no networking, no buffering policy. The edge pipes
// Writer output into ffmpeg's stdin. StreamInfo lets the edge decide the
// transcode ladder (does the source have audio? what resolution?) before
// ffmpeg has probed anything.
//
// It deliberately does not read FLV files, mux or demux other containers,
// or parse codec configuration beyond what StreamInfo needs (H.264 SPS
// size fields; other codecs are identified by name only).
package flv
