package e2e

// The fleet harness of the end-to-end tests: every test here drives real
// processes the way an operator does, through this one API.
//
//   - binary is the `livestreams` binary, built once by TestMain.
//   - startProc(t, procSpec{Args: …, Env: …, Dir: …}) starts a process (the
//     binary unless Bin says otherwise), keeps its output, stops it
//     gracefully when the test ends and prints its last lines if the test
//     failed. proc.Stop, Kill, Signal, Restart, WaitOutput and Output do
//     the rest.
//   - cliRun and mustCLI run one admin command with a bounded time;
//     newClient is the typed /v1 client; httpGet a bounded GET;
//     newBucket a bucket on a versitygw (objstoretest).
//   - startFleet starts a control plane (GeoIP, gossip) and edges in
//     cities, each its own process, bootstrapped with the CLI; fleet.client
//     calls its /v1 API with the typed client (controlplane/client).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/geoip/geoiptest"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/objstore/objstoretest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// binary is the `livestreams` binary built once for the tests that drive
// real processes, the way an operator does.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "livestreams-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "livestreams")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	out, err := exec.CommandContext(ctx, "go", "build", "-o", binary, "..").CombinedOutput()
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build livestreams: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// procSpec says how to start a process.
type procSpec struct {
	// Name labels the process in failure output (default: Bin and the
	// first argument).
	Name string
	// Bin is the program (default: the livestreams binary).
	Bin  string
	Args []string
	// Env is added to the test's environment.
	Env []string
	// Dir is the working directory (default: the test's, e2e/).
	Dir string
	// Stdin feeds the process (default: none).
	Stdin io.Reader
	// Group starts the process in a process group of its own and sends
	// every signal to the whole group, as a terminal's Ctrl-C does: for
	// make, which does not pass signals on to the command it runs.
	Group bool
	// StopWithin bounds a graceful stop before SIGKILL (default 15 s).
	StopWithin time.Duration
}

// proc is a running process of a test; its output (stdout and stderr,
// interleaved) is kept for assertions and failures.
type proc struct {
	spec procSpec
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	done chan struct{} // closed once the process is reaped
	err  error         // its exit, once done is closed
}

// startProc starts a process for the test: the test's cleanup stops it
// gracefully (SIGTERM, then SIGKILL after StopWithin) if it still runs,
// and prints its last output lines when the test failed.
func startProc(t testing.TB, spec procSpec) *proc {
	t.Helper()
	if spec.Bin == "" {
		spec.Bin = binary
	}
	if spec.Name == "" {
		spec.Name = filepath.Base(spec.Bin)
		if len(spec.Args) > 0 {
			spec.Name += " " + spec.Args[0]
		}
	}
	if spec.StopWithin == 0 {
		spec.StopWithin = 15 * time.Second
	}
	p := &proc{spec: spec, out: &testutil.SyncBuffer{}, done: make(chan struct{})}
	// The context is a backstop: the cleanup below stops the process
	// gracefully first, then cancels, which kills what is left.
	ctx, cancel := context.WithCancel(context.Background())
	p.cmd = exec.CommandContext(ctx, spec.Bin, spec.Args...)
	p.cmd.Cancel = func() error { return p.Signal(syscall.SIGKILL) }
	p.cmd.Dir, p.cmd.Stdin = spec.Dir, spec.Stdin
	p.cmd.Env = append(os.Environ(), spec.Env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// A grandchild that outlives the process (ffmpeg under an edge) may
	// hold the output pipe open; do not wait for it forever.
	p.cmd.WaitDelay = 5 * time.Second
	if spec.Group {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", spec.Name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		// A graceful stop lets an edge end its sessions and reap its
		// ffmpeg, which would otherwise go on writing into the test's
		// directory while it is removed.
		p.Stop()
		cancel()
		if spec.Group {
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) // whatever is left of the group
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", spec.Name, testutil.LastLines(p.Output(), 40))
		}
	})
	return p
}

// Output is everything the process has written so far.
func (p *proc) Output() string { return p.out.String() }

// Pid is the process id.
func (p *proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and been reaped.
func (p *proc) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process (to its group if spec.Group).
func (p *proc) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	if p.spec.Group {
		return syscall.Kill(-p.cmd.Process.Pid, sig)
	}
	return p.cmd.Process.Signal(sig)
}

// Kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *proc) Kill() {
	p.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop asks the process to end with SIGTERM and waits for it, killing it
// after spec.StopWithin; it returns how the process exited (nil for a
// clean exit). Stopping a process that already exited returns its exit.
func (p *proc) Stop() error { return p.StopWith(syscall.SIGTERM) }

// StopWith is Stop with another signal (SIGINT is a terminal's Ctrl-C).
func (p *proc) StopWith(sig syscall.Signal) error {
	p.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(p.spec.StopWithin):
		p.Kill()
		return fmt.Errorf("%s did not stop within %v of %v", p.spec.Name, p.spec.StopWithin, sig)
	}
	return p.err
}

// Restart starts the process again with the same spec, after it stopped;
// the new process belongs to t.
func (p *proc) Restart(t testing.TB) *proc {
	t.Helper()
	select {
	case <-p.done:
	default:
		t.Fatalf("restart %s: it still runs", p.spec.Name)
	}
	return startProc(t, p.spec)
}

// WaitOutput waits until the output matches re and returns the first
// match's submatches; it fails the test if the process exits first or
// within passes.
func (p *proc) WaitOutput(t testing.TB, within time.Duration, re *regexp.Regexp) []string {
	t.Helper()
	var m []string
	testutil.UntilEvery(t, within, 50*time.Millisecond, fmt.Sprintf("%s printing %s", p.spec.Name, re), func() error {
		if m = re.FindStringSubmatch(p.Output()); m != nil {
			return nil
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before printing %s:\n%s", p.spec.Name, p.err, re, testutil.LastLines(p.Output(), 40))
		default:
		}
		return errors.New("not yet")
	})
	return m
}

// cliRun runs one admin command of the binary with env added to the
// test's environment, within 20 s, and returns its stdout; the error
// carries its stderr.
func cliRun(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("livestreams %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), err
}

// mustCLI is cliRun failing the test when the command fails.
func mustCLI(t testing.TB, env []string, args ...string) string {
	t.Helper()
	out, err := cliRun(t, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	setupTokenRe  = regexp.MustCompile(`--token (lst_[A-Za-z0-9_-]+)`)
	exportTokenRe = regexp.MustCompile(`LIVESTREAMS_TOKEN=(\S+)`)
)

// waitSetupToken waits for a bootstrapping control plane to print its
// one-time setup token.
func waitSetupToken(t testing.TB, what string, output func() string) string {
	t.Helper()
	var setup string
	testutil.UntilEvery(t, 20*time.Second, 50*time.Millisecond, what+" printing a setup token", func() error {
		if m := setupTokenRe.FindStringSubmatch(output()); m != nil {
			setup = m[1]
			return nil
		}
		return errors.New("none yet")
	})
	return setup
}

// bootstrap creates the first owner with `livestreams bootstrap` and
// returns the token of the export line it prints.
func bootstrap(t testing.TB, api, setup string, extra ...string) string {
	t.Helper()
	out := mustCLI(t, nil, append([]string{"bootstrap", "--addr", api, "--token", setup,
		"--email", "ops@example.com", "--password", "correct horse battery"}, extra...)...)
	m := exportTokenRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("bootstrap printed no export line: %q", out)
	}
	return strings.Trim(m[1], `"'`)
}

// redirectFor asks the control plane where a viewer at ip plays pid, as a
// load balancer in front of it would pass the address.
func redirectFor(t testing.TB, api, pid string, ip netip.Addr) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, api+"/v1/play/"+pid+".m3u8", nil)
	req.Header.Set("X-Forwarded-For", ip.String())
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return 0, ""
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// newBucket creates (if need be) a bucket on the S3 server gw and returns
// a store of it, closed when the test ends.
func newBucket(t testing.TB, gw *objstoretest.VersityGW, bucket string) *objstore.S3 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: gw.Endpoint, Region: gw.Region, Bucket: bucket,
		AccessKey: gw.AccessKey, SecretKey: gw.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

// httpGet fetches url, following redirects, within 30 s; a failed request
// is status 0 with the error as the body.
func httpGet(t testing.TB, url string) (int, []byte) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, body
}

// city is one edge of a test fleet.
type city struct {
	id, region, lat, lon string
	ip                   netip.Addr
	rtmp, hls            string
	dataDir              string
	p                    *proc
}

func testCities() []*city {
	return []*city{
		{id: "lon", region: "eu-west", lat: "51.51", lon: "-0.13", ip: geoiptest.LondonIP},
		{id: "lin", region: "eu-north", lat: "58.41", lon: "15.62", ip: geoiptest.LinkopingIP},
		{id: "sea", region: "us-west", lat: "47.61", lon: "-122.33", ip: geoiptest.SeattleIP},
	}
}

// fleetOptions describes a fleet.
type fleetOptions struct {
	// Probe is the gossip probe interval (the product's default is 500ms).
	Probe  string
	Cities []*city
	// ControlArgs and EdgeArgs are added to the control plane's and every
	// edge's command line.
	ControlArgs, EdgeArgs []string
}

// fleet is a control plane with a GeoIP database and gossip, and edges in
// cities, each its own process.
type fleet struct {
	api     string   // the control plane's base URL
	env     []string // LIVESTREAMS_ADDR and LIVESTREAMS_TOKEN of the owner
	client  *client.Client
	control *proc
	byID    map[string]*city
}

// newClient returns a typed /v1 client of addrs acting with token.
func newClient(t testing.TB, token string, addrs ...string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Addrs: addrs, Token: token, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startFleet starts the fleet, bootstraps it with the CLI and waits until
// every edge is alive in the control plane's gossip view.
func startFleet(t testing.TB, o fleetOptions) *fleet {
	t.Helper()
	mediatest.RequireFFmpeg(t)
	dir := t.TempDir()
	db := geoiptest.TempDB(t, geoiptest.Sample())
	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	httpAddr, quicAddr, gossipAddr := testutil.FreeAddr(t), testutil.FreeAddr(t), testutil.FreeAddr(t)
	f := &fleet{api: "http://" + httpAddr, byID: map[string]*city{}}
	f.control = startProc(t, procSpec{Args: append([]string{"control", "--bootstrap", "--node-id", "cp1", "--data-dir", filepath.Join(dir, "cp1"),
		"--http-addr", httpAddr, "--raft-addr", testutil.FreeAddr(t), "--quic-addr", quicAddr,
		"--gossip-addr", gossipAddr, "--gossip-key", key, "--gossip-probe-interval", o.Probe,
		"--geoip-db", db, "--trusted-proxies", "127.0.0.1/32", "--log-level", "warn"}, o.ControlArgs...)})
	token := bootstrap(t, f.api, waitSetupToken(t, "the control plane", f.control.Output))
	f.env = []string{"LIVESTREAMS_ADDR=" + f.api, "LIVESTREAMS_TOKEN=" + token}
	f.client = newClient(t, token, f.api)
	for _, c := range o.Cities {
		// Join tokens are single-use: one per edge, given in the
		// environment, never on the command line.
		join := strings.TrimSpace(mustCLI(t, f.env, "cluster", "join-token", "--description", c.id))
		rtmpAddr, httpA := testutil.FreeAddr(t), testutil.FreeAddr(t)
		c.rtmp, c.hls, c.dataDir = "rtmp://"+rtmpAddr+"/live", "http://"+httpA, filepath.Join(dir, c.id)
		c.p = startProc(t, procSpec{Name: "edge " + c.id, Env: []string{"LIVESTREAMS_JOIN_TOKEN=" + join}, Args: append([]string{"edge", "--node-id", c.id, "--data-dir", c.dataDir,
			"--control", quicAddr, "--rtmp-addr", rtmpAddr, "--http-addr", httpA, "--region", c.region,
			"--lat", c.lat, "--lon", c.lon, "--gossip-addr", testutil.FreeAddr(t), "--gossip-join", gossipAddr,
			"--gossip-key", key, "--gossip-probe-interval", o.Probe}, o.EdgeArgs...)})
		f.byID[c.id] = c
	}
	testutil.UntilEvery(t, 30*time.Second, 200*time.Millisecond, "the fleet forming", func() error {
		n, err := f.aliveEdges(t)
		if err == nil && n != len(o.Cities) {
			err = fmt.Errorf("%d of %d edges alive in gossip", n, len(o.Cities))
		}
		return err
	})
	return f
}

// aliveEdges counts the edges the control plane sees alive over gossip.
func (f *fleet) aliveEdges(t testing.TB) (int, error) {
	raw, err := cliRun(t, f.env, "nodes", "--json")
	if err != nil {
		return 0, err
	}
	var v client.List[client.Node]
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return 0, fmt.Errorf("nodes --json: %w", err)
	}
	n := 0
	for _, it := range v.Items {
		if it.State == "alive" && it.Source == "gossip" {
			n++
		}
	}
	return n, nil
}

// restart starts edge c again with its command line, after it stopped,
// and waits until the control plane sees it alive; the new process
// belongs to owner (the whole test's, so that it outlives a subtest).
func (f *fleet) restart(t, owner testing.TB, c *city) {
	t.Helper()
	c.p = c.p.Restart(owner)
	testutil.UntilEvery(t, 30*time.Second, 200*time.Millisecond, "edge "+c.id+" back", func() error {
		raw, err := cliRun(t, f.env, "nodes", "--json")
		if err != nil {
			return err
		}
		var v client.List[client.Node]
		json.Unmarshal([]byte(raw), &v)
		for _, it := range v.Items {
			if it.ID == c.id && it.State == "alive" {
				return nil
			}
		}
		return fmt.Errorf("not alive in %s", raw)
	})
}

// liveStream is a stream created for a test, with its key.
type liveStream = client.StreamCreated

// createStream creates a stream with the CLI.
func (f *fleet) createStream(t testing.TB, name string) liveStream {
	t.Helper()
	var st liveStream
	if err := json.Unmarshal([]byte(mustCLI(t, f.env, "stream", "create", "--json", name)), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// publishTo creates a stream and publishes a synthetic source to edge c
// until the test ends; it returns once the stream plays.
func (f *fleet) publishTo(t testing.TB, c *city) liveStream {
	t.Helper()
	st := f.createStream(t, "fleet")
	mediatest.Publish(t, c.rtmp+"/"+st.StreamKey, mediatest.Live{Spec: mediatest.Spec{Width: 640, Height: 360, Seconds: 120, GOP: 30}})
	var code int
	var loc string
	testutil.UntilEvery(t, 45*time.Second, 200*time.Millisecond, "the stream going live", func() error {
		if code, loc = redirectFor(t, f.api, st.PlaybackID, c.ip); code != http.StatusFound {
			show, _ := cliRun(t, f.env, "stream", "show", "--json", st.ID)
			return fmt.Errorf("play answered %d %q; stream: %s", code, loc, show)
		}
		return nil
	})
	return st
}
