package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/api/auth"
	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/cluster"
	"github.com/livestreams/livestreams/controlplane/fleet"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/routing"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/testutil"
)

// The tests run real Raft nodes in-process on 127.0.0.1, each with an HTTP
// server that mounts the node-to-node endpoints beside this API, as the
// server package does.

const (
	testSetupToken = "lst_test_setup_token"
	testPassword   = "correct horse battery"
	clusterKey     = "test-cluster-key"
)

// fastParams keep argon2 cheap in tests that make many users; the tests
// of login itself use the real parameters.
var fastParams = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type nodeOpts struct {
	cfg       func(*Config)
	realHash  bool // keep the production argon2 parameters
	bootstrap bool
}

type testNode struct {
	id   string
	node *cluster.Node
	api  *Handler
	url  string
	raft string // Raft listen address
	// store and jobs are what the API was given (unless nodeOpts.cfg
	// changed them).
	store *objstore.Local
	jobs  *jobs.Service
	// srv serves url; closing it and node kills the node (events_test.go).
	srv *http.Server
}

func startNode(t testing.TB, id string, o nodeOpts) *testNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	raftAddr := testutil.FreeAddr(t)
	n, err := cluster.Open(cluster.Config{NodeID: id, DataDir: t.TempDir(),
		RaftAddr: raftAddr, HTTPAdvertise: url,
		Bootstrap: o.bootstrap, ClusterKey: clusterKey})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	store, err := objstore.NewLocal(t.TempDir(), url, randomBytes(32))
	if err != nil {
		n.Close()
		ln.Close()
		t.Fatal(err)
	}
	js, err := jobs.New(jobs.Config{Node: n})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Node: n, Directory: &fakeDirectory{}, AuthRatePerMinute: 100_000, AuthBurst: 100_000,
		JoinTokens: func(ctx context.Context, desc string, ttl time.Duration) (client.JoinToken, error) {
			return client.JoinToken{Token: "ljt_" + ids.Random(10)}, nil
		},
		Jobs: js, Store: store}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	h := New(cfg)
	if !o.realHash {
		h.pwParams = fastParams
		h.dummyHash, _ = auth.HashPassword("dummy", fastParams)
	}
	mux := http.NewServeMux()
	mux.Handle("/internal/", n.InternalHandler())
	mux.Handle("/objects/", store.Handler())
	mux.Handle("/", h)
	srv := &http.Server{Handler: mux}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		wg.Wait()
		h.Close()
		n.Close()
		store.Close()
	})
	return &testNode{id: id, node: n, api: h, url: url, raft: raftAddr, store: store, jobs: js, srv: srv}
}

// initMeta applies the cluster meta as the server does at bootstrap.
func initMeta(t testing.TB, n *cluster.Node) state.Meta {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := n.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	m := state.Meta{ClusterID: ids.New("cls"), CreatedAt: time.Now().UTC(), StreamKeySecret: randomBytes(32),
		SessionSecret: randomBytes(32), SetupTokenHash: auth.HashSetupToken(testSetupToken)}
	if _, err := n.Apply(ctx, fsm.CmdInitCluster, fsm.InitCluster{Meta: m}); err != nil {
		t.Fatal(err)
	}
	return m
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// fakeDirectory plays live streams from one edge and ingests there.
type fakeDirectory struct{}

func (fakeDirectory) Playback(ctx context.Context, s state.Stream, client netip.Addr) (fleet.Route, error) {
	if s.CurrentSessionID == "" {
		return fleet.Route{}, fleet.ErrNotLive
	}
	return fleet.Route{EdgeID: "edge-a", URL: "http://edge-a.test:8081/hls/" + s.PlaybackID + "/master.m3u8"}, nil
}

func (fakeDirectory) VOD(ctx context.Context, pid string, client netip.Addr) (fleet.Route, error) {
	return fleet.Route{EdgeID: "edge-a", URL: "http://edge-a.test:8081/hls/" + pid + "/master.m3u8"}, nil
}

func (fakeDirectory) Ingest(ctx context.Context, client netip.Addr, proto string) (fleet.Route, error) {
	if proto != "" && proto != "rtmp" {
		return fleet.Route{}, routing.ErrNoEdge
	}
	return fleet.Route{EdgeID: "edge-a", URL: "rtmp://edge-a.test:1935/live", RTMP: "rtmp://edge-a.test:1935/live"}, nil
}

func (fakeDirectory) Nodes() ([]fleet.Node, error) {
	return []fleet.Node{{ID: "edge-a", State: "alive", Source: "lease", RTMPURL: "rtmp://edge-a.test:1935/live",
		HLSURL: "http://edge-a.test:8081", Streams: []string{}}}, nil
}

// rawClient talks to one node as one principal and records every JSON
// answer, so tests can check no secret ever left. It sends what a test
// gives it, malformed bodies included; typed returns the Go client of the
// same principal for the requests a test makes the way callers do.
type rawClient struct {
	t     testing.TB
	base  string
	token string
	org   string
	rec   *recorder
}

type recorder struct {
	mu      sync.Mutex
	answers []recorded
}

type recorded struct {
	method, path string
	status       int
	body         []byte
}

func (r *recorder) add(x recorded) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.answers = append(r.answers, x)
	r.mu.Unlock()
}

func (c *rawClient) as(token string) *rawClient {
	cc := *c
	cc.token, cc.org = token, ""
	return &cc
}

func (c *rawClient) inOrg(org string) *rawClient {
	cc := *c
	cc.org = org
	return &cc
}

func (c *rawClient) typed() *client.Client {
	c.t.Helper()
	tc, err := client.New(client.Config{Addrs: []string{c.base}, Token: c.token, Org: c.org, Timeout: 30 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	return tc
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d %q is not a JSON object: %v", a.status, a.body, err)
	}
	return m
}

func (a answer) code() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(a.body, &e)
	return e.Error.Code
}

var httpClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// sdp is a request body sent as application/sdp.
type sdp string

// do sends a request; body is JSON-encoded unless it is []byte, string or
// sdp.
func (c *rawClient) do(method, path string, body any, hdr ...string) answer {
	c.t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	case sdp:
		rd, ctype = strings.NewReader(string(b)), "application/sdp"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.org != "" {
		req.Header.Set("X-Livestreams-Org", c.org)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		c.rec.add(recorded{method: method, path: path, status: resp.StatusCode, body: raw})
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: raw}
}

// must sends a request and fails the test unless the status is want.
func (c *rawClient) must(want int, method, path string, body any, hdr ...string) answer {
	c.t.Helper()
	a := c.do(method, path, body, hdr...)
	if a.status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, a.status, want, a.body)
	}
	return a
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// env is a one-node cluster with its first owner signed up.
type env struct {
	t      testing.TB
	n      *testNode
	meta   state.Meta
	rec    *recorder
	anon   *rawClient
	admin  *rawClient // the setup user's session: owner of orgA, cluster admin
	adminU map[string]any
	orgA   string
}

func newEnv(t testing.TB, o nodeOpts) *env {
	t.Helper()
	o.bootstrap = true
	n := startNode(t, "cp1", o)
	e := &env{t: t, n: n, meta: initMeta(t, n.node), rec: &recorder{}}
	e.anon = &rawClient{t: t, base: n.url, rec: e.rec}
	a := e.anon.must(201, "POST", "/v1/auth/signup", map[string]any{"email": "root@example.com", "password": testPassword,
		"name": "Root", "org_name": "Org A", "setup_token": testSetupToken}).json(t)
	e.admin = e.anon.as(str(a, "token"))
	e.adminU = a["user"].(map[string]any)
	e.orgA = str(a["org"].(map[string]any), "id")
	return e
}

// user creates a user with role in org (through the cluster admin) and
// returns a client holding their session.
func (e *env) user(email, org, role string) *rawClient {
	e.t.Helper()
	ctx := testutil.Context(e.t, 30*time.Second)
	if _, err := e.admin.typed().Users().Create(ctx, client.UserCreate{Email: email, Password: testPassword, OrgID: org, Role: role}); err != nil {
		e.t.Fatal(err)
	}
	l, err := e.anon.typed().Auth().Login(ctx, client.Login{Email: email, Password: testPassword})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.anon.as(l.Token)
}

// key creates an API key with role through c and returns a client using it.
func (e *env) key(c *rawClient, name, role string, clusterAdmin bool) (*rawClient, map[string]any) {
	e.t.Helper()
	k := c.must(201, "POST", "/v1/api-keys", map[string]any{"name": name, "role": role, "cluster_admin": clusterAdmin}).json(e.t)
	return e.anon.as(str(k, "key")), k
}

func mustPrefix(t testing.TB, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
