package rtmp

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testutil"
)

// The tests in this file keep what the issue 12 probe found refused on
// the RTMP port as regression guards: garbage around the handshake,
// chunk-size and message-length attacks, chunk stream floods and extended
// timestamps. A panic in a connection would end the test binary; each
// test also checks the connection is closed and the server still takes a
// good publish afterwards.

// expectClosed reads from nc until the server closes it, failing if that
// takes longer than d.
func expectClosed(t *testing.T, nc net.Conn, d time.Duration) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(d))
	n, err := io.Copy(io.Discard, nc)
	if isTimeout(err) {
		t.Fatalf("connection still open after %s (%d bytes read)", d, n)
	}
}

// stillServes checks a normal publish works on addr.
func stillServes(t *testing.T, addr string) {
	t.Helper()
	if code := dialClient(t, addr).startPublish("live", testKey); code != "NetStream.Publish.Start" {
		t.Fatalf("a good publish after the attack: %s", code)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestGarbageBeforeHandshake(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish, HandshakeRate: 1000, MaxConnsPerIP: 100, HandshakeTimeout: time.Second})
	withVersion := func(v byte, n int) []byte {
		b := randomBytes(n)
		b[0] = v
		return b
	}
	inputs := map[string][]byte{
		"http request":            []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"tls client hello":        {0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03},
		"rtmpe version 6":         withVersion(6, 1+handshakePartSize),
		"version 0":               withVersion(0, 1+handshakePartSize),
		"version 255":             withVersion(255, 3*handshakePartSize),
		"one byte":                {rtmpVersion},
		"short C1":                withVersion(rtmpVersion, 100),
		"random after C0":         withVersion(rtmpVersion, 64<<10),
		"zeros":                   make([]byte, 8<<10),
		"random, any version":     randomBytes(16 << 10),
		"valid C0C1 then garbage": append(withVersion(rtmpVersion, 1+handshakePartSize), randomBytes(32<<10)...),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			nc.Write(in) // the server may close before it has all of it
			expectClosed(t, nc, 10*time.Second)
		})
	}
	stillServes(t, addr)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) != 1 {
		t.Errorf("%d publishes reached OnPublish, want only the good one", len(rec.reqs))
	}
}

func TestGarbageAfterHandshake(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish, HandshakeRate: 1000, MaxConnsPerIP: 100, HandshakeTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
	for i := range 20 {
		c := dialClient(t, addr)
		c.nc.Write(randomBytes(1 + i*997))
		expectClosed(t, c.nc, 10*time.Second)
	}
	// Garbage in the middle of a publish ends it, and closes its sink
	// exactly once.
	c := dialClient(t, addr)
	if code := c.startPublish("live", testKey); code != "NetStream.Publish.Start" {
		t.Fatal(code)
	}
	_, sink := rec.waitCalled(t, 5*time.Second)
	c.nc.Write(append([]byte{0xc5}, randomBytes(64<<10)...)) // a type 3 chunk on a fresh chunk stream
	if err := sink.wait(t, 10*time.Second); err == nil {
		t.Error("a publish broken by garbage closed its sink without an error")
	}
	expectClosed(t, c.nc, 10*time.Second)
	if sink.closed != 1 {
		t.Errorf("sink closed %d times", sink.closed)
	}
	stillServes(t, addr)
}

func TestChunkSizeAttacks(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, logs := startServer(t, Config{OnPublish: rec.OnPublish, HandshakeRate: 1000, MaxConnsPerIP: 100, HandshakeTimeout: 3 * time.Second})
	for _, n := range []uint32{0, 1 << 31, 0xFFFFFFFF, 0x7FFFFFFF, 0xFFFFFF, DefaultMaxChunkSize + 1} {
		c := dialClient(t, addr)
		c.send(csidControl, setChunkSizeMessage(n))
		expectClosed(t, c.nc, 10*time.Second)
	}
	// After publishing too: the publish ends with the reason.
	c := dialClient(t, addr)
	if code := c.startPublish("live", testKey); code != "NetStream.Publish.Start" {
		t.Fatal(code)
	}
	_, sink := rec.waitCalled(t, 5*time.Second)
	c.send(csidControl, setChunkSizeMessage(0))
	if err := sink.wait(t, 10*time.Second); err == nil {
		t.Error("chunk size 0 mid-publish closed the sink without an error")
	}
	expectClosed(t, c.nc, 10*time.Second)
	testutil.Eventually(t, 5*time.Second, "the chunk size refusal to be logged", func() bool {
		return bytes.Contains([]byte(logs.String()), []byte("chunk size"))
	})

	// Chunk size 1 is legal: a whole publish in one-byte chunks works,
	// slowly but with bounded work per byte.
	c = dialClient(t, addr)
	c.send(csidControl, setChunkSizeMessage(1))
	c.cw.chunkSize = 1
	if code := c.startPublish("live", testKey); code != "NetStream.Publish.Start" {
		t.Fatalf("publish in one-byte chunks: %s", code)
	}
	_, sink = rec.waitCalled(t, 5*time.Second)
	c.send(6, message{typeID: TypeVideo, streamID: 1, timestamp: 40, payload: payload(3000, 1)})
	testutil.Eventually(t, 5*time.Second, "a 3000-byte video message in one-byte chunks", func() bool {
		for _, m := range sink.messages() {
			if m.Type == TypeVideo && len(m.Payload) == 3000 {
				return true
			}
		}
		return false
	})
	c.nc.Close()
	sink.wait(t, 10*time.Second)
}

func TestHugeMessageLengths(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish, HandshakeRate: 1000, MaxConnsPerIP: 100, HandshakeTimeout: 3 * time.Second})
	header := func(basic []byte, length uint32, typ byte) []byte {
		return append(basic, 0, 0, 0, byte(length>>16), byte(length>>8), byte(length), typ, 0, 0, 0, 0)
	}
	for name, b := range map[string][]byte{
		"16 MiB command":             header([]byte{0x03}, 0xFFFFFF, typeAMF0Command),
		"16 MiB video":               header([]byte{0x06}, 0xFFFFFF, TypeVideo),
		"limit+1 on a 2-byte csid":   header([]byte{0x00, 0xff}, DefaultMaxMessageSize+1, TypeVideo),
		"16 MiB on a 3-byte csid":    header([]byte{0x01, 0xff, 0xff}, 0xFFFFFF, TypeAudio),
		"16 MiB set chunk size":      header([]byte{0x02}, 0xFFFFFF, typeSetChunkSize),
		"16 MiB aggregate":           header([]byte{0x04}, 0xFFFFFF, typeAggregate),
		"16 MiB unknown type":        header([]byte{0x04}, 0xFFFFFF, 0x7f),
		"short control message":      header([]byte{0x02}, 2, typeSetChunkSize),
		"short control message, ack": append(header([]byte{0x02}, 1, typeSetChunkSize), 0),
	} {
		t.Run(name, func(t *testing.T) {
			c := dialClient(t, addr)
			c.nc.Write(b)
			if name == "short control message" {
				c.nc.Write([]byte{0, 0})
			}
			expectClosed(t, c.nc, 10*time.Second)
		})
	}
	stillServes(t, addr)
}

func TestManyChunkStreams(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish, HandshakeRate: 1000, MaxConnsPerIP: 100, HandshakeTimeout: 3 * time.Second})
	// Complete one-byte messages on ever new chunk stream ids, in the
	// 1-, 2- and 3-byte basic header forms.
	var flood []byte
	for i := range 70_000 {
		var basic []byte
		switch csid := 3 + i; {
		case csid < 64:
			basic = []byte{byte(csid)}
		case csid < 320:
			basic = []byte{0, byte(csid - 64)}
		default:
			v := csid - 64
			basic = []byte{1, byte(v), byte(v >> 8)}
		}
		flood = append(flood, basic...)
		flood = append(flood, 0, 0, 0, 0, 0, 1, TypeVideo, 1, 0, 0, 0, 0)
		if len(flood) > 1<<20 {
			break
		}
	}
	c := dialClient(t, addr)
	wrote := make(chan struct{})
	go func() { // the server closes long before it reads it all
		defer close(wrote)
		c.nc.Write(flood)
	}()
	expectClosed(t, c.nc, 10*time.Second)
	c.nc.Close()
	<-wrote

	// Partial messages on many chunk streams at once.
	c = dialClient(t, addr)
	var partial []byte
	for i := range maxPartialMessages + 2 {
		partial = append(partial, byte(4+i), 0, 0, 0, 0x10, 0, 0, TypeVideo, 1, 0, 0, 0)
		partial = append(partial, payload(128, byte(i))...)
	}
	c.nc.Write(partial)
	expectClosed(t, c.nc, 10*time.Second)
	stillServes(t, addr)
}

func TestExtendedTimestamps(t *testing.T) {
	t.Parallel()
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish, HandshakeRate: 1000, MaxConnsPerIP: 100})
	c := dialClient(t, addr)
	if code := c.startPublish("live", testKey); code != "NetStream.Publish.Start" {
		t.Fatal(code)
	}
	_, sink := rec.waitCalled(t, 5*time.Second)
	// Multi-chunk messages (600 bytes at the default 128) whose type 3
	// chunks repeat the extended timestamp; deltas that need it too.
	stamps := []uint32{0xFFFFFE, 0xFFFFFF, 0x1000000, 0x7FFFFFFF, 0xFFFFFFFF}
	for _, ts := range stamps {
		c.send(6, message{typeID: TypeVideo, streamID: 1, timestamp: ts, payload: payload(600, byte(ts))})
	}
	testutil.Eventually(t, 5*time.Second, "the extended-timestamp messages", func() bool {
		n := 0
		for _, m := range sink.messages() {
			if m.Type == TypeVideo && len(m.Payload) == 600 {
				n++
			}
		}
		return n == len(stamps)
	})
	var got []uint32
	for _, m := range sink.messages() {
		if m.Type == TypeVideo {
			got = append(got, m.Timestamp)
		}
	}
	for i, ts := range stamps {
		if got[i] != ts {
			t.Errorf("message %d timestamp %#x, want %#x (all: %#x)", i, got[i], ts, got)
		}
	}
	// A header announcing an extended timestamp that never comes.
	c.nc.Write([]byte{0x07, 0xff, 0xff, 0xff, 0, 0, 10, TypeVideo, 1, 0, 0, 0, 0x01, 0x02})
	c.nc.(*net.TCPConn).CloseWrite()
	if err := sink.wait(t, 10*time.Second); err == nil {
		t.Error("a truncated extended timestamp closed the sink without an error")
	}
	if sink.closed != 1 {
		t.Errorf("sink closed %d times", sink.closed)
	}
	stillServes(t, addr)
}

// TestPartialMessageMemoryBounded holds, on several connections, every
// partial message the server allows, each declaring the largest length,
// and measures the heap: memory follows the bytes that arrived, not the
// lengths declared.
func TestPartialMessageMemoryBounded(t *testing.T) {
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish, HandshakeRate: 1000, MaxConnsPerIP: 100, HandshakeTimeout: 30 * time.Second})
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	const conns = 10
	before := heap()
	var held []*testClient
	for range conns {
		c := dialClient(t, addr)
		// maxPartialMessages-1 messages of the largest length, one chunk
		// of each sent; then a connect, whose answer shows the server
		// has read them all.
		var b []byte
		for i := range maxPartialMessages - 1 {
			l := uint32(DefaultMaxMessageSize)
			b = append(b, byte(4+i), 0, 0, 0, byte(l>>16), byte(l>>8), byte(l), TypeVideo, 1, 0, 0, 0)
			b = append(b, payload(128, byte(i))...)
		}
		if _, err := c.nc.Write(b); err != nil {
			t.Fatal(err)
		}
		c.connect("live")
		held = append(held, c)
	}
	after := heap()
	grew := int64(after) - int64(before)
	declared := int64(conns) * (maxPartialMessages - 1) * DefaultMaxMessageSize
	t.Logf("FIGURE rtmp partial messages: %d connections declaring %d MiB in all grew the heap by %.1f MiB",
		conns, declared>>20, float64(grew)/(1<<20))
	if grew > 32<<20 {
		t.Errorf("heap grew %d MiB for %d MiB declared, want memory to follow the bytes sent", grew>>20, declared>>20)
	}
	for _, c := range held {
		c.nc.Close()
	}
}
