package rtmp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/livestreams/livestreams/edgenode/rtmp/amf0"
)

// command dispatches one AMF0 command to its handler. Arguments are never
// logged: releaseStream, FCPublish and publish carry the stream key.
func (c *conn) command(ctx context.Context, m message) error {
	vals, err := amf0.DecodeAll(m.payload)
	if err != nil {
		return protocolErrorf("decode command: %v", err)
	}
	if len(vals) == 0 {
		return protocolErrorf("empty command message")
	}
	name, ok := vals[0].(string)
	if !ok {
		return protocolErrorf("command name is %T, want string", vals[0])
	}
	var tx float64
	if len(vals) > 1 {
		tx, _ = vals[1].(float64)
	}
	var args []any // command object first, then the arguments
	if len(vals) > 2 {
		args = vals[2:]
	}
	if !c.connected && name != "connect" {
		return protocolErrorf("command %q before connect", truncate(name))
	}
	switch name {
	case "connect":
		return c.onConnect(tx, args)
	case "releaseStream", "FCPublish":
		return c.reply(tx, nil, amf0.Undefined{})
	case "createStream":
		return c.onCreateStream(tx)
	case "publish":
		return c.onPublish(ctx, m.streamID, args)
	case "FCUnpublish":
		c.endPublish(nil)
		return c.reply(tx, nil, amf0.Undefined{})
	case "deleteStream", "closeStream":
		return c.onDeleteStream(m.streamID, args)
	case "play", "play2":
		return c.onPlay(m.streamID)
	case "_result", "_error", "onStatus", "_checkbw", "getStreamLength":
		// Answers to nothing we asked, or probes needing no answer.
		return nil
	default:
		c.log.Debug("rtmp unknown command", "command", truncate(name))
		if tx == 0 {
			return nil
		}
		if err := c.sendCommand(csidCommand, 0, "_error", tx, nil, status("error", "NetConnection.Call.Failed", "unknown command")); err != nil {
			return err
		}
		return c.flush()
	}
}

func (c *conn) onConnect(tx float64, args []any) error {
	if c.connected {
		return protocolErrorf("connect sent twice")
	}
	if len(args) > 0 {
		c.app, _ = amf0.LookupString(args[0], "app")
		c.tcURL, _ = amf0.LookupString(args[0], "tcUrl")
	}
	c.connected = true
	for _, m := range []message{
		windowAckSizeMessage(serverWindowSize),
		setPeerBandwidthMessage(serverWindowSize, limitDynamic),
		setChunkSizeMessage(serverChunkSize),
	} {
		if err := c.send(csidControl, m); err != nil {
			return err
		}
	}
	c.cw.chunkSize = serverChunkSize
	props := amf0.Object{{Key: "fmsVer", Value: "FMS/3,0,1,123"}, {Key: "capabilities", Value: 31.0}}
	info := append(status("status", "NetConnection.Connect.Success", "Connection succeeded."),
		amf0.Property{Key: "objectEncoding", Value: 0.0})
	if err := c.sendCommand(csidCommand, 0, "_result", tx, props, info); err != nil {
		return err
	}
	return c.flush()
}

func (c *conn) onCreateStream(tx float64) error {
	if c.lastStreamID >= maxMessageStreams {
		return protocolErrorf("more than %d createStream calls", maxMessageStreams)
	}
	c.lastStreamID++
	return c.reply(tx, nil, float64(c.lastStreamID))
}

func (c *conn) onPublish(ctx context.Context, streamID uint32, args []any) error {
	var name string
	if len(args) > 1 {
		name, _ = args[1].(string)
	}
	app, key, query := splitPublishName(c.app, name)
	// The app is not logged: misconfigured clients put the key there.
	log := c.log.With("stream_key", Redact(key))
	refuse := func(reason error) error {
		return c.refusePublish(log, streamID, "publish refused", reason)
	}
	switch {
	case c.pub != nil:
		return refuse(fmt.Errorf("connection already publishing"))
	case streamID == 0 || streamID > c.lastStreamID:
		return refuse(fmt.Errorf("publish on stream %d that createStream did not return", streamID))
	case key == "":
		return refuse(fmt.Errorf("empty stream key"))
	case c.cfg.App != "" && app != c.cfg.App:
		// The client learns which application to use; the one it sent is
		// neither echoed nor logged (a misconfigured client may have put
		// its key there).
		return c.refusePublish(log, streamID, "unknown application: publish to rtmp://HOST/"+c.cfg.App+"/STREAM_KEY",
			errors.New("unknown application"))
	}

	pctx, cancel := context.WithDeadline(ctx, c.setup)
	defer cancel()
	sink, err := c.cfg.OnPublish(pctx, PublishRequest{
		App:        app,
		StreamKey:  key,
		Query:      query,
		TCURL:      c.tcURL,
		RemoteAddr: c.nc.RemoteAddr().String(),
		TLS:        isTLS(c.nc),
	})
	if err == nil && sink == nil {
		err = fmt.Errorf("OnPublish returned no sink")
	}
	if err != nil {
		return refuse(err)
	}
	c.pub = &publication{streamID: streamID, sink: sink, log: log}
	c.idleOK = true
	if c.published != nil {
		c.published.Store(true)
	}
	log.Info("rtmp publish started")
	if err := c.send(csidControl, streamBeginMessage(streamID)); err != nil {
		return err
	}
	if err := c.sendStatus(streamID, "status", "NetStream.Publish.Start", "Publishing started."); err != nil {
		return err
	}
	return c.flush()
}

// refusePublish answers a publish with NetStream.Publish.BadName and the
// description the client shows its user, and ends the connection (after
// a linger, so the client reads the answer) with reason.
func (c *conn) refusePublish(log *slog.Logger, streamID uint32, description string, reason error) error {
	log.Info("rtmp publish refused", "reason", reason.Error())
	c.linger = true
	if err := c.sendStatus(streamID, "error", "NetStream.Publish.BadName", description); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	return fmt.Errorf("%w: %w", errPublishRefused, reason)
}

func (c *conn) onDeleteStream(streamID uint32, args []any) error {
	if len(args) > 1 {
		if id, ok := args[1].(float64); ok {
			streamID = uint32(id)
		}
	}
	if c.pub != nil && c.pub.streamID == streamID {
		c.endPublish(nil)
		c.closing = true
	}
	return nil
}

func (c *conn) onPlay(streamID uint32) error {
	c.linger = true
	if err := c.sendStatus(streamID, "error", "NetStream.Play.Failed", "This server does not play streams."); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	return errPlayRefused
}

// reply answers a command with _result, unless the client sent no
// transaction id and so expects no answer.
func (c *conn) reply(tx float64, vals ...any) error {
	if tx == 0 {
		return nil
	}
	if err := c.sendCommand(csidCommand, 0, "_result", append([]any{tx}, vals...)...); err != nil {
		return err
	}
	return c.flush()
}

func (c *conn) sendStatus(streamID uint32, level, code, description string) error {
	return c.sendCommand(csidStream, streamID, "onStatus", 0.0, nil, status(level, code, description))
}

func (c *conn) sendCommand(csid, streamID uint32, name string, vals ...any) error {
	payload, err := amf0.Encode(append([]any{name}, vals...)...)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return c.send(csid, message{typeID: typeAMF0Command, streamID: streamID, payload: payload})
}

func status(level, code, description string) amf0.Object {
	return amf0.Object{
		{Key: "level", Value: level},
		{Key: "code", Value: code},
		{Key: "description", Value: description},
	}
}

func isTLS(nc net.Conn) bool {
	_, ok := nc.(*tls.Conn)
	return ok
}

// truncate keeps peer-chosen strings short in logs and errors.
func truncate(s string) string {
	const n = 32
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
