// Package llhls packages a live rendition as HLS from ffmpeg's fragmented
// MP4 output: ffmpeg writes each rung's fMP4 (ftyp+moov, then moof+mdat
// fragments) to a pipe, and a Rung cuts it into an init segment, partial
// segments (LL-HLS parts) and media segments on disk, and writes the
// rung's media playlist after every change; a Packager does so for every
// rung of a session and writes the master playlist as soon as each rung
// has its first segment.
//
// The on-disk layout is the one ffmpeg's HLS muxer wrote before it
// (OutDir/master.m3u8, OutDir/<rung>/index.m3u8, init_TAG.mp4,
// seg_TAG_NNNNN.m4s), so recording upload and VOD-from-live read either.
// Parts are separate files (part_TAG_NNNNN.P.m4s), listed only for the
// latest segments and removed once no playlist lists them; segments that
// leave the sliding window stay on disk. Every file is written under a
// temporary name and renamed, so a reader never sees half of one.
//
// It deliberately does not serve anything (edgenode/hls does, including
// blocking reloads and delta updates), encode, or choose keyframes: it
// cuts segments only at keyframes, which the encoder places.
package llhls
