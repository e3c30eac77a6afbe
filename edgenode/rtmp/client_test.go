package rtmp

import (
	"bufio"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"

	"github.com/livestreams/livestreams/edgenode/rtmp/amf0"
)

// testClient is a minimal RTMP publisher built from the package's own
// chunk codec, for driving the server where ffmpeg cannot (stalls,
// odd stream names, malformed input).
type testClient struct {
	t  *testing.T
	nc net.Conn
	cr *chunkReader
	cw *chunkWriter
	bw *bufio.Writer
	tx float64
}

func dialClient(t *testing.T, addr string) *testClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	bw := bufio.NewWriter(nc)
	c1 := make([]byte, 1+handshakePartSize)
	c1[0] = rtmpVersion
	rand.Read(c1[9:])
	if _, err := nc.Write(c1); err != nil {
		t.Fatal(err)
	}
	s := make([]byte, 1+2*handshakePartSize)
	if _, err := io.ReadFull(br, s); err != nil {
		t.Fatalf("read S0+S1+S2: %v", err)
	}
	if s[0] != rtmpVersion || string(s[1+handshakePartSize:]) != string(c1[1:]) {
		t.Fatal("S2 does not echo C1")
	}
	if _, err := nc.Write(s[1 : 1+handshakePartSize]); err != nil { // C2 echoes S1
		t.Fatal(err)
	}
	return &testClient{t: t, nc: nc, cr: newChunkReader(br, 1<<20, 1<<20), cw: newChunkWriter(bw), bw: bw}
}

func (c *testClient) send(csid uint32, m message) {
	c.t.Helper()
	if err := c.cw.writeMessage(csid, m); err != nil {
		c.t.Fatal(err)
	}
	if err := c.bw.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

func (c *testClient) call(streamID uint32, name string, args ...any) float64 {
	c.t.Helper()
	c.tx++
	p, err := amf0.Encode(append([]any{name, c.tx}, args...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(csidCommand, message{typeID: typeAMF0Command, streamID: streamID, payload: p})
	return c.tx
}

// readCommand reads until a command arrives, applying Set Chunk Size.
func (c *testClient) readCommand() []any {
	c.t.Helper()
	for range 100 {
		m, err := c.cr.readMessage()
		if err != nil {
			c.t.Fatalf("client read: %v", err)
		}
		switch m.typeID {
		case typeSetChunkSize:
			v, _ := uint32Payload(m)
			if err := c.cr.setChunkSize(v); err != nil {
				c.t.Fatal(err)
			}
		case typeAMF0Command:
			vals, err := amf0.DecodeAll(m.payload)
			if err != nil {
				c.t.Fatal(err)
			}
			return vals
		}
	}
	c.t.Fatal("no command in 100 messages")
	return nil
}

func (c *testClient) connect(app string) {
	c.t.Helper()
	tx := c.call(0, "connect", amf0.Object{{Key: "app", Value: app}, {Key: "type", Value: "nonprivate"}, {Key: "tcUrl", Value: "rtmp://127.0.0.1/" + app}})
	res := c.readCommand()
	if res[0] != "_result" || res[1] != tx {
		c.t.Fatalf("connect answer %v", res)
	}
	if code, _ := amf0.LookupString(res[3], "code"); code != "NetConnection.Connect.Success" {
		c.t.Fatalf("connect code %q", code)
	}
}

func (c *testClient) createStream() uint32 {
	c.t.Helper()
	tx := c.call(0, "createStream", nil)
	for range 10 {
		res := c.readCommand()
		if res[0] == "_result" && res[1] == tx {
			id, _ := res[3].(float64)
			return uint32(id)
		}
	}
	c.t.Fatal("no createStream result")
	return 0
}

// publish publishes name and returns the onStatus code.
func (c *testClient) publish(streamID uint32, name string) string {
	c.t.Helper()
	c.call(0, "releaseStream", nil, name)
	c.call(0, "FCPublish", nil, name)
	c.call(streamID, "publish", nil, name, "live")
	for range 10 {
		res := c.readCommand()
		if res[0] == "onStatus" {
			code, _ := amf0.LookupString(res[3], "code")
			return code
		}
	}
	c.t.Fatal("no onStatus")
	return ""
}

// startPublish runs the whole publish sequence as OBS does.
func (c *testClient) startPublish(app, name string) string {
	c.t.Helper()
	c.connect(app)
	return c.publish(c.createStream(), name)
}
