package objstore

import (
	"context"
	"net"
	"net/http"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// newHTTPClient returns the S3 client's HTTP client: the SDK's own (so
// AWS_CA_BUNDLE and the SDK's defaults still apply) with connections that
// give up on a peer that moves no bytes, in either direction, for stall. A
// hung or SIGSTOPped server or a black-holed route then fails the request,
// within the SDK's bounded retries, instead of blocking an upload queue
// forever; a request may still take as long as it keeps moving, so a 16 MiB
// part on a slow uplink is fine. (The SDK's own read timeout covers only
// reads, and is off by default.)
func newHTTPClient(stall time.Duration) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithReadTimeout(0). // ours covers it
		WithTransportOptions(func(tr *http.Transport) {
			dial := tr.DialContext
			if dial == nil {
				dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
			}
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &stallConn{Conn: c, stall: stall}, nil
			}
			tr.ResponseHeaderTimeout = stall
			tr.MaxIdleConnsPerHost = 32
		})
}

// stallConn pushes its deadlines forward on every read and write, so only
// a connection that stops moving times out.
type stallConn struct {
	net.Conn
	stall time.Duration
}

func (c *stallConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.stall))
	return c.Conn.Read(p)
}

func (c *stallConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.stall))
	return c.Conn.Write(p)
}
