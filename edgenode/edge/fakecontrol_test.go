package edge_test

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/pki"
	"github.com/livestreams/livestreams/shared/testutil"
	"github.com/livestreams/livestreams/shared/token"
)

// fakeControl is a control plane as an edge sees it: a protocol.Server that
// authorizes publishes of one stream key, hands out queued jobs, and
// records what the edge reports. Edge tests use it instead of a real
// control plane, which edgenode/ may not import.
type fakeControl struct {
	t    testing.TB
	srv  *protocol.Server
	join string
	key  string
	org  string
	// policy is the stream's playback policy; tokens signed with priv
	// (key id "key_1") play it.
	policy string
	priv   *ecdsa.PrivateKey
	keys   []protocol.SigningKey
	mu     sync.Mutex
	seq    int
	live   bool
	jobs   []protocol.Job // handed out by the next lease
	calls  map[string]int
	// ended and uploaded are by session id.
	ended    map[string]protocol.SessionEnded
	uploaded map[string]protocol.RecordingUploaded
	// assets are ready assets by playback id (vod tests set it).
	assets map[string]*protocol.AssetPlayback
	// revoked signing keys, pushed to watch_signing_keys; keysChanged is
	// closed (and replaced) when it changes.
	revoked     []string
	keysChanged chan struct{}
	// heartbeats are the session lists of the heartbeats received;
	// leaseMS is the lease the heartbeat replies give (default 3000);
	// holdEnd, when set, holds session_ended reports until it is closed.
	heartbeats [][]string
	leaseMS    int64
	holdEnd    chan struct{}
	// dvrWindow is the stream's dvr_window in seconds (0 = the default).
	dvrWindow int
	// latency is the stream's latency mode ("" = standard).
	latency string
	// srtPassphrase is the stream's SRT passphrase ("" = none), answered
	// to SRT publishes as the control plane does.
	srtPassphrase string
}

// startFakeControl serves on a loopback port until the test ends. Its one
// stream, playback id "pb1", has the given stream key and playback policy.
func startFakeControl(t testing.TB, streamKey, policy string) *fakeControl {
	t.Helper()
	ca, err := pki.NewCA("edge-test")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServerCert([]string{protocol.ServerName, "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, join, err := pki.NewJoinToken(ca.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	priv, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := token.PublicPEM(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeControl{t: t, join: join, key: streamKey, org: "org_test", policy: policy, priv: priv,
		keys: []protocol.SigningKey{{ID: "key_1", PublicPEM: pub}}, calls: map[string]int{},
		ended: map[string]protocol.SessionEnded{}, uploaded: map[string]protocol.RecordingUploaded{},
		keysChanged: make(chan struct{})}
	f.srv, err = protocol.NewServer(protocol.ServerConfig{Addr: "127.0.0.1:0", TLS: pki.ServerTLSConfig(cert), Logger: testutil.Logger(t),
		Authenticate: func(ctx context.Context, h protocol.Hello) (protocol.HelloReply, error) {
			return protocol.HelloReply{ClusterID: "test", NodeID: "cp", HeartbeatIntervalMS: 500, LeaseTTLMS: 3000}, nil
		},
		Join: func(ctx context.Context, r protocol.JoinRequest, _ net.Addr) (protocol.CertificateReply, error) {
			f.mu.Lock()
			f.calls[protocol.TypeJoin]++
			f.mu.Unlock()
			if r.JoinToken != join {
				return protocol.CertificateReply{}, &protocol.Error{Code: protocol.CodeUnauthorized, Message: "invalid join token"}
			}
			c, err := ca.IssueNodeCert(r.CSRPEM, r.NodeID, time.Hour)
			if err != nil {
				return protocol.CertificateReply{}, &protocol.Error{Code: protocol.CodeInvalid, Message: err.Error()}
			}
			return protocol.CertificateReply{CertificatePEM: c.CertPEM, CABundlePEM: string(pki.BundleOf(ca))}, nil
		},
		Handler: protocol.HandlerFunc(f.handle)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); f.srv.Close(); <-done })
	return f
}

func (f *fakeControl) addr() string { return f.srv.Addr().String() }

// mint signs a playback token for pb1, valid for an hour.
func (f *fakeControl) mint() string {
	tok, err := token.Sign(f.priv, "key_1", "pb1", time.Now().Add(time.Hour))
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// count returns how often the edge sent msgType.
func (f *fakeControl) count(msgType string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[msgType]
}

func (f *fakeControl) sessionEnded(id string) (protocol.SessionEnded, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.ended[id]
	return e, ok
}

// waitEnded waits for the end report of a session.
func (f *fakeControl) waitEnded(t testing.TB, session string, within time.Duration) protocol.SessionEnded {
	t.Helper()
	var end protocol.SessionEnded
	testutil.Eventually(t, within, session+" to end", func() bool {
		var ok bool
		end, ok = f.sessionEnded(session)
		return ok
	})
	return end
}

func (f *fakeControl) recordingUploaded(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.uploaded[id]
	return ok
}

// revokeKey revokes a signing key, as `livestreams signing-key revoke`
// would; watching edges hear of it at once.
func (f *fakeControl) revokeKey(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, id)
	close(f.keysChanged)
	f.keysChanged = make(chan struct{})
}

// signingKeys is the watch reply for the current keys (f.mu held).
func (f *fakeControl) signingKeys() protocol.WatchSigningKeysReply {
	r := protocol.WatchSigningKeysReply{Revision: fmt.Sprintf("r%d", len(f.revoked)), Revoked: f.revoked}
	for _, k := range f.keys {
		if !slices.Contains(f.revoked, k.ID) {
			r.Active = append(r.Active, protocol.OrgSigningKey{ID: k.ID, OrgID: f.org, PublicPEM: k.PublicPEM})
		}
	}
	return r
}

func (f *fakeControl) queueJob(j protocol.Job) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs = append(f.jobs, j)
}

func (f *fakeControl) handle(ctx context.Context, peer protocol.Peer, msgType string, body json.RawMessage) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[msgType]++
	switch msgType {
	case protocol.TypeAuthorizePublish:
		var req protocol.AuthorizePublishRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, &protocol.Error{Code: protocol.CodeInvalid, Message: err.Error()}
		}
		if req.StreamKey != f.key {
			return nil, &protocol.Error{Code: protocol.CodeForbidden, Message: "unknown stream key"}
		}
		if f.live {
			return nil, &protocol.Error{Code: protocol.CodeConflict, Message: "stream is already live"}
		}
		f.live = true
		f.seq++
		st := protocol.StreamInfo{ID: "str_1", OrgID: f.org, Name: "test", PlaybackID: "pb1",
			PlaybackPolicy: f.policy, Recording: true, LatencyMode: cmp.Or(f.latency, protocol.LatencyStandard), DVRWindow: f.dvrWindow}
		if req.Protocol == protocol.IngestSRT {
			st.SRTPassphrase = f.srtPassphrase
		}
		return protocol.AuthorizePublishReply{SessionID: fmt.Sprintf("ses_%d", f.seq), SigningKeys: f.keys, Stream: st}, nil
	case protocol.TypeSessionEnded:
		var req protocol.SessionEnded
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, &protocol.Error{Code: protocol.CodeInvalid, Message: err.Error()}
		}
		if hold := f.holdEnd; hold != nil {
			f.mu.Unlock()
			select {
			case <-hold:
			case <-ctx.Done():
			}
			f.mu.Lock()
		}
		f.ended[req.SessionID] = req
		f.live = false
		return nil, nil
	case protocol.TypeHeartbeat:
		var hb protocol.Heartbeat
		if err := json.Unmarshal(body, &hb); err == nil {
			f.heartbeats = append(f.heartbeats, hb.Sessions)
		}
		return protocol.HeartbeatReply{LeaseTTLMS: cmp.Or(f.leaseMS, 3000)}, nil
	case protocol.TypeLeaseJobs:
		var req protocol.LeaseJobsRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, &protocol.Error{Code: protocol.CodeInvalid, Message: err.Error()}
		}
		var jobs, kept []protocol.Job // only the types asked for (the restream loop asks apart)
		for _, j := range f.jobs {
			if slices.Contains(req.Types, j.Type) {
				jobs = append(jobs, j)
			} else {
				kept = append(kept, j)
			}
		}
		f.jobs = kept
		return protocol.LeaseJobsReply{Jobs: jobs, LeaseTTLMS: 3000}, nil
	case protocol.TypeWatchJobs:
		f.mu.Unlock()
		select { // a long-poll that never says stop
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
		f.mu.Lock()
		return protocol.WatchJobsReply{}, nil
	case protocol.TypeWatchSigningKeys:
		var req protocol.WatchSigningKeysRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, &protocol.Error{Code: protocol.CodeInvalid, Message: err.Error()}
		}
		if r := f.signingKeys(); r.Revision != req.Revision {
			return r, nil
		}
		changed := f.keysChanged
		f.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-changed:
		case <-time.After(time.Duration(req.WaitMS) * time.Millisecond):
		}
		f.mu.Lock()
		return f.signingKeys(), nil
	case protocol.TypeRecordingUploaded:
		var req protocol.RecordingUploaded
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, &protocol.Error{Code: protocol.CodeInvalid, Message: err.Error()}
		}
		f.uploaded[req.SessionID] = req
		return protocol.RecordingUploadedReply{AssetID: protocol.RecordingAssetID(req.SessionID)}, nil
	case protocol.TypePlaybackInfo:
		var req protocol.PlaybackInfoRequest
		if err := json.Unmarshal(body, &req); err == nil && f.assets[req.PlaybackID] != nil {
			return protocol.PlaybackInfoReply{OrgID: f.org, PlaybackPolicy: protocol.PlaybackPublic, Asset: f.assets[req.PlaybackID]}, nil
		}
		if err := json.Unmarshal(body, &req); err != nil || req.PlaybackID != "pb1" {
			return nil, &protocol.Error{Code: protocol.CodeNotFound, Message: "no such playback id"}
		}
		return protocol.PlaybackInfoReply{StreamID: "str_1", OrgID: f.org, PlaybackPolicy: f.policy, Live: f.live, SigningKeys: f.keys}, nil
	default: // session_started, renew_jobs, finish_job
		return nil, nil
	}
}
