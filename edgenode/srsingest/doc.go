// Package srsingest is the edge's ingest adapter for an SRS server in
// front of it (`livestreams edge --ingest srs`): SRS terminates the
// publishers (RTMP, SRT, WebRTC…) and asks the edge, through its HTTP
// hooks, whether each may publish; the edge pulls every allowed stream
// from SRS on loopback into the same live core as its built-in ingest.
//
// # The hooks
//
// The Server is an http.Handler for POST /srs/hooks/on_publish,
// /srs/hooks/on_unpublish and /srs/hooks/on_hls (or /srs/hooks for all
// three, dispatching on the body's action). Every hook must carry the
// shared secret (--srs-hook-secret), in the hook URL's query (?secret=,
// the only place SRS can put it) or in the X-Livestreams-Hook-Secret
// header; it is compared in constant time. A missing or wrong secret is
// answered 403 {"code":1,...}, a body that is not one JSON object with an
// action (or is over 64 KiB) 400 {"code":1,...}.
//
// The answers follow SRS's contract: HTTP 200 with {"code":0} allows
// (SRS 5 and later also accept a bare 0; we always send the object),
// anything else refuses, and we refuse with 403 and a non-zero code and a
// message. on_unpublish and on_hls are always answered {"code":0} (SRS
// ignores those answers; the edge makes its own HLS).
//
// # Where the stream key is
//
// SRS reports the publish as vhost, app, stream and param (the URL's
// query, "?a=b"). The stream name is the stream key, as in our own URL
// form rtmp://HOST/live/STREAM_KEY; SRT's streamid #!::r=live/STREAM_KEY,m=publish
// and WebRTC's ?app=live&stream=STREAM_KEY reach SRS as the same app and
// stream. An encoder that must publish a readable name may carry the key
// as a query parameter instead, rtmp://HOST/live/NAME?key=STREAM_KEY: a
// key parameter wins over the name. The app must be the edge's
// (--rtmp-app, "live"). The core's rules then apply as for any ingest:
// the control plane authorizes the key, one publisher per key, and a
// second on_publish for a stream that is live here is refused.
//
// # The pull
//
// On an allowed on_publish the edge plays rtmp://SRS/APP/STREAM (from
// --srs-rtmp-url, rtmp://127.0.0.1:1935 by default) with package rtmp's
// own client (rtmp.Play) and hands the messages to the RTMP adapter's
// sink (package rtmpingest), which probes the source from its metadata
// and sequence headers and re-muxes FLV for the session. An ffmpeg reader
// (ffmpeg -i rtmp://… -c copy -f flv pipe:1) would work too; the client
// was chosen because it costs no second process per session (nor its CPU,
// nor a child to reap on every path), it reuses the codec, bounds and
// fuzzing the server already has, the source is probed exactly as for a
// direct RTMP publish, and the end of the stream is told apart from a
// failure (NetStream.Play.UnpublishNotify vs an error). SRS admits the
// publisher only after the hook answers, so the first plays may find
// nothing; they are retried for 10 s. on_unpublish ends the pull and the
// session as "unpublished"; a pull that goes silent for 8 s ends it as
// "stalled" (as does the core's own stall timer).
//
// # srs.conf
//
//	vhost __defaultVhost__ {
//	    http_hooks {
//	        enabled         on;
//	        on_publish      http://127.0.0.1:8081/srs/hooks/on_publish?secret=SECRET;
//	        on_unpublish    http://127.0.0.1:8081/srs/hooks/on_unpublish?secret=SECRET;
//	    }
//	}
//
// with the edge started as `livestreams edge --ingest srs
// --srs-hook-secret SECRET --srs-rtmp-url rtmp://127.0.0.1:1935 …`
// (8081 is the edge's --http-addr). docs/srs.md has the whole setup.
//
// It deliberately does not configure or run SRS, use SRS's HLS or DVR, or
// answer on_play/on_stop (playback goes through the edge's HLS origin).
package srsingest
