package rtmp

import (
	"context"
	"strings"
)

// PublishRequest describes a client that wants to publish. StreamKey is a
// secret: log it only through Redact.
type PublishRequest struct {
	App        string // application, e.g. "live"
	StreamKey  string // publish name without its query
	Query      string // what followed '?' in the publish name (or the app), without the '?'
	TCURL      string // tcUrl from connect, verbatim; it may contain the key
	RemoteAddr string
	TLS        bool // the connection came through a TLS listener (RTMPS)
}

// Sink receives the media of one accepted publish.
type Sink interface {
	// WriteMessage receives audio, video and script data in arrival
	// order. Script data arrives with any @setDataFrame wrapper removed,
	// so metadata starts with the "onMetaData" string. An error ends the
	// publish and closes the connection. The connection is not read
	// while WriteMessage runs, so a slow Sink pushes back on the
	// publisher through TCP.
	WriteMessage(m Message) error
	// Close is called exactly once when the publish ends: with nil on a
	// clean unpublish or end of stream, otherwise with the reason
	// (timeout, protocol error, server shutdown, WriteMessage error).
	Close(err error)
}

// PublishFunc decides whether a publish may start. It runs before any
// media is accepted; a non-nil error refuses the publish with
// NetStream.Publish.BadName and closes the connection. The error is
// logged, so it must not contain the stream key.
type PublishFunc func(ctx context.Context, req PublishRequest) (Sink, error)

// Redact returns a form of a stream key that is safe to log: its first
// four bytes and an ellipsis.
func Redact(key string) string {
	if len(key) <= 4 {
		return "…"
	}
	return key[:4] + "…"
}

// splitPublishName maps what the client sent in connect (app) and publish
// (name) onto app, key and query. Clients configured with
// rtmp://host/live/KEY and clients configured with rtmp://host/live plus a
// separate key both normally send app "live" and name "KEY"; some put the
// key into the app ("live/KEY") and publish an empty name, or send the
// whole path as the name with an empty app.
func splitPublishName(app, name string) (outApp, key, query string) {
	app, appQuery, _ := strings.Cut(app, "?")
	app = strings.Trim(app, "/")
	name = strings.TrimLeft(name, "/")
	if a, n, ok := strings.Cut(name, "/"); ok && app == "" {
		app, name = a, n
	}
	if base, rest, ok := strings.Cut(app, "/"); ok {
		app = base
		if name == "" {
			name = rest
		}
	}
	key, query, _ = strings.Cut(name, "?")
	if query == "" {
		query = appQuery
	}
	return app, key, query
}
