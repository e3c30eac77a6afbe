package rtmp

import (
	"net"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/mediatest"
)

// TestIdleSocketsFromOneAddress is issue 12's finding 3: one address
// (127.0.0.2; Linux routes all of 127.0.0.0/8 to lo) opens 1000 sockets
// and sends nothing; another (127.0.0.1) still publishes with ffmpeg.
func TestIdleSocketsFromOneAddress(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish}) // the defaults

	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	for range 1000 {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial from 127.0.0.2 (after %d): %v", len(held), err)
		}
		held = append(held, c)
	}
	// The server keeps at most MaxConnsPerIP of them; the rest it closed.
	open := 0
	for _, c := range held {
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); isTimeout(err) {
			open++
		}
	}
	t.Logf("FIGURE rtmp limits: 1000 idle sockets from 127.0.0.2 -> %d kept open by the server (max %d per address)", open, DefaultMaxConnsPerIP)
	if open > DefaultMaxConnsPerIP {
		t.Errorf("%d idle sockets from one address kept, want at most %d", open, DefaultMaxConnsPerIP)
	}

	// Meanwhile 127.0.0.1 publishes.
	if out, err := runFFmpeg(t, 2, "rtmp://"+addr+"/live/"+testKey); err != nil {
		t.Fatalf("ffmpeg from 127.0.0.1 while 127.0.0.2 holds 1000 sockets: %v\n%s", err, out)
	}
	_, sink := rec.waitCalled(t, 5*time.Second)
	if sink == nil {
		t.Fatal("the publish from 127.0.0.1 got no session")
	}
	if err := sink.wait(t, 10*time.Second); err != nil {
		t.Errorf("publish from 127.0.0.1 ended with %v", err)
	}
	checkMedia(t, sink.messages(), 2000)
}

// TestHandshakeRate: one address opening connections faster than
// HandshakeRate, beyond its burst, is refused at accept; after a pause
// it is served again.
func TestHandshakeRate(t *testing.T) {
	rec := newPublishRecorder()
	srv, err := NewServer(Config{OnPublish: rec.OnPublish, MaxConnsPerIP: 4, HandshakeRate: 5})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	ip := func(s string) net.Conn { return fakeConn{remote: &net.TCPAddr{IP: net.ParseIP(s), Port: 1}} }
	admitted := 0
	srv.mu.Lock()
	for range 10 {
		if tr, _ := srv.admit(ip("192.0.2.1"), now); tr != nil {
			tr.published.Store(true) // not idle: no eviction makes room
			admitted++
		}
	}
	// Another address has its own budget.
	other, _ := srv.admit(ip("192.0.2.2"), now)
	srv.mu.Unlock()
	if admitted != 4 || other == nil {
		t.Fatalf("admitted %d of 10 from one address at once (want the burst, 4), other address %v", admitted, other != nil)
	}
	// Past the per-address cap a publishing address is refused even with
	// tokens; a second later the rate allows more, the cap still does not.
	srv.mu.Lock()
	tr, reason := srv.admit(ip("192.0.2.1"), now.Add(time.Second))
	srv.mu.Unlock()
	if tr != nil || reason == "" {
		t.Errorf("a fifth connection from a publishing address was admitted")
	}
	// Idle handshakes of the same address are evicted, oldest first.
	srv2, _ := NewServer(Config{OnPublish: rec.OnPublish, MaxConnsPerIP: 2, HandshakeRate: 100})
	srv2.mu.Lock()
	defer srv2.mu.Unlock()
	a, _ := srv2.admit(ip("192.0.2.1"), now)
	b, _ := srv2.admit(ip("192.0.2.1"), now.Add(time.Second))
	c, _ := srv2.admit(ip("192.0.2.1"), now.Add(2*time.Second))
	if a == nil || b == nil || c == nil || srv2.evicted.Load() != 1 || srv2.perIP[a.ip] != 2 {
		t.Errorf("third idle handshake: admitted %v, evicted %d, %d counted", c != nil, srv2.evicted.Load(), srv2.perIP[a.ip])
	}
}

// fakeConn is a net.Conn with a remote address, for admission tests.
type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (f fakeConn) RemoteAddr() net.Addr { return f.remote }
func (f fakeConn) Close() error         { return nil }
