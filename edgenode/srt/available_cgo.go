//go:build cgo

package srt

// Available reports whether this binary has libsrt: it is built with cgo.
const Available = true
