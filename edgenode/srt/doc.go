// Package srt is the edge's SRT ingest: a listener on Debian's libsrt
// (through a few cgo bindings of our own) that accepts live publishers
// (OBS, ffmpeg, phones, hardware encoders) and hands each one's MPEG-TS
// bytes to a Handle callback.
//
// The stream key travels in the streamid, either in the access-control
// syntax `#!::r=live/KEY,m=publish` or bare (`KEY`, `live/KEY`);
// ParseStreamID reads it. Whether a publisher may connect is decided by
// Config.Authorize inside libsrt's listen callback, before the handshake
// completes: a refusal becomes an SRT reject reason (the 14xx codes of the
// access-control convention) sent to the caller, and no connection,
// goroutine or media read follows. Authorize may return a passphrase,
// which makes that one connection AES-encrypted. Playback (m=request),
// bidirectional mode, malformed streamids, and callers beyond the global
// or per-IP connection caps are refused the same way. A publisher that
// sends nothing for the stall timeout ends with ErrStalled.
//
// Like package rtmp, it knows nothing of which keys are valid, of the
// control plane or of the live core: those are the Authorize and Handle
// callbacks of the adapter that uses it. It does not parse MPEG-TS, does
// not serve playback (m=request), rendezvous or caller mode, file
// transfer mode, socket groups (bonding), or the nested `#!:{...}` form
// of the streamid syntax.
//
// Authorize runs on libsrt's receiving thread for the port, so it holds
// up other handshakes and other publishers' packets while it runs: it is
// bounded (Config.AuthorizeTimeout), and a refusal is remembered for a few
// seconds so a caller's resent handshakes do not ask again.
//
// The cgo boundary is kept small: C never holds a Go pointer (the listen
// callback finds its Server through a cgo.Handle), libsrt's thread-local
// error is read in the same C call that failed, and buffers passed to C
// are used only for the duration of the call. A binary built without cgo
// still compiles this package, and Server.Run then fails at once.
package srt
