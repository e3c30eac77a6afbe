// Package amf0 encodes and decodes Action Message Format 0, the
// serialization RTMP uses for commands and FLV uses for script data
// (onMetaData).
//
// Decoding is meant for untrusted input: it never allocates more than the
// input could describe, limits nesting depth, and returns an error instead
// of panicking. Values decode to plain Go types (float64, bool, string,
// nil) or to the small types of this package (Object, ECMAArray,
// StrictArray, Undefined, Date, XMLDocument).
//
// It deliberately does not implement AMF3, references (marker 0x07) or
// class mapping: RTMP publishers do not need them.
package amf0
