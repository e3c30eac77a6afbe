package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/objstore/objstoretest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// The deploy test's fleet: deploy/terraform/modules/inventory renders exactly
// this file (its terraform test checks it), and the Ansible roles render the
// fleet's services from it.
const deployInventory = "../deploy/terraform/modules/inventory/tests/loopback.ini"

// systemdPath is the PATH systemd gives a service that sets none.
const systemdPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// TestDeploy renders the Ansible roles for 3 control-plane nodes and 2
// edges on loopback addresses, starts each service with exactly its
// rendered unit's ExecStart and EnvironmentFile (read as systemd reads
// them), with versitygw as the S3 store, and checks the fleet works: Raft
// forms, edges join and gossip, a publish plays through /v1/play, the
// recording reaches the bucket, and `livestreams nodes` shows the
// inventory's regions.
func TestDeploy(t *testing.T) {
	t.Parallel()
	playbook := requireAnsible(t)
	mediatest.RequireFFmpeg(t)
	deployDir, err := filepath.Abs("../deploy/ansible")
	if err != nil {
		t.Fatal(err)
	}
	inventory, err := filepath.Abs(deployInventory)
	if err != nil {
		t.Fatal(err)
	}
	hosts := readInventory(t, inventory)
	if len(hosts["control"]) != 3 || len(hosts["edge"]) != 2 {
		t.Fatalf("inventory %s: want 3 control and 2 edge hosts, have %v", inventory, hosts)
	}

	gw := objstoretest.StartVersityGW(t)
	store := newBucket(t, gw, "recordings")

	dir := t.TempDir()
	// One port per service, the same on every host: each host has its own
	// loopback address.
	ports := map[string]int{}
	for _, name := range []string{"control_http", "control_raft", "control_quic", "gossip", "edge_rtmp", "edge_http"} {
		ports[name] = testutil.FreePort(t)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	grp, err := user.LookupGroupId(me.Gid)
	if err != nil {
		t.Fatal(err)
	}
	// What an operator sets in group_vars: paths, ports, the listen
	// address, and the store's endpoint (versitygw's port is chosen now).
	vars := map[string]any{
		"livestreams_binary_dest":             binary,
		"livestreams_user":                    me.Username,
		"livestreams_group":                   grp.Name,
		"livestreams_config_owner":            me.Username,
		"livestreams_config_group":            grp.Name,
		"livestreams_control_data_dir":        filepath.Join(dir, "{{ inventory_hostname }}", "data"),
		"livestreams_edge_data_dir":           filepath.Join(dir, "{{ inventory_hostname }}", "data"),
		"livestreams_listen_addr":             "{{ livestreams_public_addr }}",
		"livestreams_control_http_port":       ports["control_http"],
		"livestreams_control_raft_port":       ports["control_raft"],
		"livestreams_control_quic_port":       ports["control_quic"],
		"livestreams_gossip_port":             ports["gossip"],
		"livestreams_edge_rtmp_port":          ports["edge_rtmp"],
		"livestreams_edge_http_port":          ports["edge_http"],
		"livestreams_gossip_probe_interval":   "200ms",
		"livestreams_s3_endpoint":             gw.Endpoint,
		"livestreams_edge_upload_backoff_max": "1s",
		"livestreams_control_log_level":       "warn",
		"livestreams_edge_log_level":          "warn",
	}
	secrets := map[string]any{
		"vault_livestreams_cluster_key":   randomHex(t, 32),
		"vault_livestreams_gossip_key":    base64.StdEncoding.EncodeToString(randomBytes(t, 32)),
		"vault_livestreams_s3_access_key": gw.AccessKey,
		"vault_livestreams_s3_secret_key": gw.SecretKey,
	}
	// TLS as an operator with their own certificate sets it up: Caddy in
	// front (the caddy role), when this machine has Caddy.
	front := deployTLS(t, dir, hosts, vars)
	r := &renderer{t: t, playbook: playbook, deployDir: deployDir, inventory: inventory, dir: dir, vars: vars}

	// First run, as the runbook says: the control plane only.
	rendered := r.render(secrets, "control")
	var cps []*unitProc
	for _, h := range hosts["control"] {
		u := readUnit(t, filepath.Join(rendered, h.name, "etc/systemd/system/livestreams-control.service"))
		verifyUnit(t, u)
		cps = append(cps, startUnit(t, h.name, u))
		front.start(t, rendered, h)
	}
	api := "http://" + hosts["control"][0].addr + ":" + strconv.Itoa(ports["control_http"])
	if front != nil {
		api = front.check(t, hosts["control"][0], "/readyz")
	}
	var setup string
	testutil.Eventually(t, 30*time.Second, "the setup token in the bootstrap node's output", func() bool {
		if m := setupTokenRe.FindStringSubmatch(cps[0].out.String()); m != nil {
			setup = m[1]
		}
		return setup != ""
	})
	out := mustCLI(t, front.env(), "bootstrap", "--addr", api, "--token", setup, "--email", "ops@example.com", "--password", "correct horse battery")
	m := regexp.MustCompile(`LIVESTREAMS_TOKEN=(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("bootstrap printed no token:\n%s", out)
	}
	env := []string{"LIVESTREAMS_ADDR=" + api, "LIVESTREAMS_TOKEN=" + strings.Trim(m[1], `"'`)}
	if front != nil {
		env = append(env, "SSL_CERT_FILE="+front.certFile)
	}

	// The Raft cluster forms: three healthy voters, one leader.
	testutil.Until(t, 60*time.Second, "three healthy Raft voters", func() error {
		raw, err := cliRun(t, env, "cluster", "status", "--json")
		if err != nil {
			return err
		}
		var st struct {
			LeaderID string `json:"leader_id"`
			Nodes    []struct {
				ID      string `json:"id"`
				Voter   bool   `json:"voter"`
				Healthy bool   `json:"healthy"`
			} `json:"nodes"`
		}
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return err
		}
		n := 0
		for _, nd := range st.Nodes {
			if nd.Voter && nd.Healthy {
				n++
			}
		}
		if st.LeaderID == "" || n != 3 {
			return fmt.Errorf("leader %q, %d healthy voters: %s", st.LeaderID, n, raw)
		}
		return nil
	})
	t.Logf("livestreams cluster status:\n%s", mustCLI(t, env, "cluster", "status"))

	// Second run with the edges' join tokens in the vault (single-use:
	// one per edge): the control plane's files do not change, the edges'
	// are written.
	joins := map[string]string{}
	for _, h := range hosts["edge"] {
		joins[h.name] = strings.TrimSpace(mustCLI(t, env, "cluster", "join-token", "--description", h.name))
	}
	secrets["vault_livestreams_edge_join_tokens"] = joins
	before := readFile(t, filepath.Join(rendered, hosts["control"][1].name, "etc/livestreams/control.env"))
	rendered = r.render(secrets, "")
	if after := readFile(t, filepath.Join(rendered, hosts["control"][1].name, "etc/livestreams/control.env")); after != before {
		t.Errorf("the second run changed a control-plane env file:\n%s\nwas:\n%s", after, before)
	}
	for _, h := range hosts["edge"] {
		u := readUnit(t, filepath.Join(rendered, h.name, "etc/systemd/system/livestreams-edge.service"))
		verifyUnit(t, u)
		startUnit(t, h.name, u)
		front.start(t, rendered, h)
	}
	edgeBase := func(h invHost) string { return "http://" + h.addr + ":" + strconv.Itoa(ports["edge_http"]) }
	if front != nil {
		edgeBase = func(h invHost) string { return front.check(t, h, "/healthz") }
	}

	// The edges join and gossip; `livestreams nodes` shows the regions.
	testutil.Until(t, 60*time.Second, "both edges alive in gossip", func() error {
		raw, err := cliRun(t, env, "nodes", "--json")
		if err != nil {
			return err
		}
		var v struct {
			Items []struct{ ID, State, Source, Region string }
		}
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return err
		}
		alive := map[string]string{}
		for _, it := range v.Items {
			if it.State == "alive" && it.Source == "gossip" {
				alive[it.ID] = it.Region
			}
		}
		for _, h := range hosts["edge"] {
			if alive[h.name] != h.vars["livestreams_edge_region"] {
				return fmt.Errorf("%s: want alive over gossip in %s: %s", h.name, h.vars["livestreams_edge_region"], raw)
			}
		}
		return nil
	})
	nodes := mustCLI(t, env, "nodes")
	t.Logf("livestreams nodes:\n%s", nodes)
	for _, h := range hosts["edge"] {
		if !strings.Contains(nodes, h.name) || !strings.Contains(nodes, h.vars["livestreams_edge_region"]) {
			t.Errorf("livestreams nodes does not show %s in %s", h.name, h.vars["livestreams_edge_region"])
		}
	}

	// A publish to the first edge plays through /v1/play.
	var st struct {
		PlaybackID string `json:"playback_id"`
		StreamKey  string `json:"stream_key"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, env, "stream", "create", "--json", "deploy")), &st); err != nil {
		t.Fatal(err)
	}
	edge := hosts["edge"][0]
	pub := mediatest.Publish(t, "rtmp://"+edge.addr+":"+strconv.Itoa(ports["edge_rtmp"])+"/live/"+st.StreamKey,
		mediatest.Live{Spec: mediatest.Spec{Seconds: 10}})
	var bases []string
	for _, h := range hosts["edge"] {
		bases = append(bases, edgeBase(h))
	}
	playThrough(t, front.client(), api, st.PlaybackID, bases)
	waitCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- pub.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("publisher: %v", err)
		}
	case <-waitCtx.Done():
		t.Fatal("the publisher did not finish")
	}

	// The recording reaches the bucket.
	var keys []string
	testutil.Until(t, 60*time.Second, "the recording in the bucket", func() error {
		keys = keys[:0]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := store.List(ctx, "", func(o objstore.ObjectInfo) error {
			if o.Size > 0 && strings.HasSuffix(o.Key, ".mp4") {
				keys = append(keys, o.Key)
			}
			return nil
		})
		if err == nil && len(keys) == 0 {
			err = errors.New("no .mp4 object yet")
		}
		return err
	})
	t.Logf("recording objects: %v", keys)
}

// requireAnsible returns the ansible-playbook binary. Without it the test
// skips on a developer's machine and fails in CI, where .ci/run installs it.
func requireAnsible(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ansible-playbook")
	if err != nil {
		testutil.Missing(t, "ansible-playbook not installed: apt-get install ansible-core (or make deps-test) to run the deploy test")
	}
	return p
}

// renderer runs deploy/ansible/render.yml as an operator runs site.yml:
// the inventory, group variables, and the secrets in an encrypted vault.
type renderer struct {
	t                              *testing.T
	playbook, deployDir, inventory string
	dir                            string
	vars                           map[string]any
	runs                           int
}

// render writes the secrets to a vault file encrypted with ansible-vault,
// runs render.yml (limited to a group when limit is set) and returns the
// root the files were written under (one directory per host).
func (r *renderer) render(secrets map[string]any, limit string) string {
	t := r.t
	t.Helper()
	r.runs++
	run := filepath.Join(r.dir, "ansible-"+strconv.Itoa(r.runs))
	if err := os.MkdirAll(run, 0o700); err != nil {
		t.Fatal(err)
	}
	pass := filepath.Join(run, "vault-pass")
	writeFile(t, pass, randomHex(t, 16)+"\n")
	vault := filepath.Join(run, "vault.yml")
	raw, _ := json.Marshal(secrets) // JSON is YAML
	writeFile(t, vault, string(raw)+"\n")
	vaultBin := filepath.Join(filepath.Dir(r.playbook), "ansible-vault")
	r.ansible(vaultBin, "encrypt", "--vault-password-file", pass, vault)
	if !strings.HasPrefix(readFile(t, vault), "$ANSIBLE_VAULT") {
		t.Fatal("ansible-vault did not encrypt the vault")
	}
	extra := filepath.Join(run, "vars.json")
	raw, _ = json.Marshal(r.vars)
	writeFile(t, extra, string(raw))
	root := filepath.Join(run, "root")
	args := []string{"-i", r.inventory, "-c", "local", "render.yml", "--vault-password-file", pass,
		"-e", "@" + vault, "-e", "@" + extra, "-e", "render_root=" + root}
	if limit != "" {
		args = append(args, "--limit", limit)
	}
	r.ansible(r.playbook, args...)
	return root
}

func (r *renderer) ansible(bin string, args ...string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = r.deployDir
	cmd.Env = append(os.Environ(), "ANSIBLE_NOCOLOR=1", "ANSIBLE_LOCAL_TEMP="+filepath.Join(r.dir, "ansible-tmp"),
		"ANSIBLE_HOME="+filepath.Join(r.dir, "ansible-home"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, testutil.LastLines(string(out), 40))
	}
}

// invHost is one host of an INI inventory.
type invHost struct {
	name, addr string
	vars       map[string]string
}

func (h invHost) String() string { return h.name }

// readInventory reads the groups of an INI inventory (what Terraform
// writes: one host a line with key=value variables).
func readInventory(t *testing.T, path string) map[string][]invHost {
	t.Helper()
	groups := map[string][]invHost{}
	group := ""
	for _, line := range strings.Split(readFile(t, path), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			group = strings.Trim(line, "[]")
		case strings.Contains(group, ":"):
		default:
			f := strings.Fields(line)
			h := invHost{name: f[0], vars: map[string]string{}}
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				h.vars[k] = v
			}
			h.addr = h.vars["ansible_host"]
			groups[group] = append(groups[group], h)
		}
	}
	return groups
}

// unit is what the test takes from a rendered systemd unit.
type unit struct {
	path      string
	execStart []string
	envFile   string
	env       []string
}

// readUnit reads a unit's ExecStart (split as systemd splits it) and
// EnvironmentFile, and the environment that file gives the process.
func readUnit(t *testing.T, path string) *unit {
	t.Helper()
	u := &unit{path: path}
	for _, line := range strings.Split(readFile(t, path), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		switch k {
		case "ExecStart":
			args, err := splitSystemd(v)
			if err != nil {
				t.Fatalf("%s: ExecStart: %v", path, err)
			}
			u.execStart = args
		case "EnvironmentFile":
			u.envFile = strings.TrimPrefix(v, "-")
		}
	}
	if len(u.execStart) == 0 || u.envFile == "" {
		t.Fatalf("%s: no ExecStart or EnvironmentFile", path)
	}
	env, err := parseEnvFile(readFile(t, u.envFile))
	if err != nil {
		t.Fatalf("%s: %v", u.envFile, err)
	}
	u.env = env
	return u
}

// splitSystemd splits a command line as systemd does: on whitespace, with
// double- or single-quoted words and backslash escapes.
func splitSystemd(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote, in = c, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			in = true
		case quote == 0 && (c == ' ' || c == '\t'):
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if in {
		args = append(args, cur.String())
	}
	return args, nil
}

// parseEnvFile reads a systemd EnvironmentFile: KEY=VALUE lines, comments
// starting with # or ;, values optionally in double quotes (backslash
// escapes) or single quotes.
func parseEnvFile(s string) ([]string, error) {
	var env []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("not KEY=VALUE: %q", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
			var b strings.Builder
			for i := 1; i < len(v)-1; i++ {
				if v[i] == '\\' && i+1 < len(v)-1 {
					i++
				}
				b.WriteByte(v[i])
			}
			v = b.String()
		case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
			v = v[1 : len(v)-1]
		}
		env = append(env, k+"="+v)
	}
	return env, sc.Err()
}

// verifyUnit runs systemd-analyze verify on a rendered unit when the
// machine has it.
func verifyUnit(t *testing.T, u *unit) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Logf("systemd-analyze not installed: %s not verified", filepath.Base(u.path))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemd-analyze", "verify", u.path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", u.path, err, out)
	}
}

// unitProc is a service started as systemd would start it.
type unitProc struct {
	cmd *exec.Cmd
	out *testutil.SyncBuffer
}

// startUnit starts u's ExecStart with exactly its environment file's
// variables and systemd's default PATH, from /, and stops it with SIGTERM
// when the test ends.
func startUnit(t *testing.T, name string, u *unit) *unitProc {
	t.Helper()
	p := &unitProc{cmd: exec.Command(u.execStart[0], u.execStart[1:]...), out: &testutil.SyncBuffer{}}
	p.cmd.Env = append([]string{"PATH=" + systemdPath}, u.env...)
	p.cmd.Dir = "/"
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { p.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("output of %s (%s):\n%s", name, strings.Join(u.execStart, " "), testutil.LastLines(p.out.String(), 40))
		}
	})
	// A service that refuses its environment exits at once.
	select {
	case <-exited:
		t.Fatalf("%s exited at start: %v\n%s", name, p.cmd.ProcessState, testutil.LastLines(p.out.String(), 20))
	case <-time.After(300 * time.Millisecond):
	}
	return p
}

// playThrough follows /v1/play to an edge that serves the stream and
// fetches its master playlist, a media playlist and a segment.
func playThrough(t *testing.T, client *http.Client, api, playbackID string, edgeBases []string) {
	t.Helper()
	get := func(url string) (int, string, string) {
		resp, err := client.Get(url)
		if err != nil {
			return 0, "", err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		return resp.StatusCode, resp.Request.URL.String(), string(body)
	}
	var final, master string
	testutil.Until(t, 60*time.Second, "the stream playing through /v1/play", func() error {
		code, u, body := get(api + "/v1/play/" + playbackID + ".m3u8")
		if code != http.StatusOK || !strings.HasPrefix(body, "#EXTM3U") {
			return fmt.Errorf("%d %s: %.200s", code, u, body)
		}
		final, master = u, body
		return nil
	})
	// The nearest healthy edge serves it, from its own disk or relayed
	// from the origin edge (through its public URL).
	served := ""
	for _, b := range edgeBases {
		if strings.HasPrefix(final, b+"/") {
			served = b
		}
	}
	if served == "" {
		t.Errorf("/v1/play went to %s, want one of the edges %v", final, edgeBases)
	}
	t.Logf("/v1/play/%s.m3u8 played from %s", playbackID, final)
	child := firstURI(master)
	if child == "" {
		t.Fatalf("master playlist without a variant:\n%s", master)
	}
	media := resolve(final, child)
	testutil.Until(t, 30*time.Second, "a segment of the stream", func() error {
		code, _, body := get(media)
		seg := firstURI(body)
		if code != http.StatusOK || seg == "" {
			return fmt.Errorf("media playlist %s: %d %.200s", media, code, body)
		}
		if code, _, b := get(resolve(media, seg)); code != http.StatusOK || len(b) == 0 {
			return fmt.Errorf("segment %s: %d", seg, code)
		}
		return nil
	})
}

// firstURI is a playlist's first line that is not a tag or blank.
func firstURI(playlist string) string {
	for _, l := range strings.Split(playlist, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

func resolve(base, ref string) string {
	if strings.Contains(ref, "://") {
		return ref
	}
	if strings.HasPrefix(ref, "/") {
		scheme := strings.Index(base, "://") + len("://")
		return base[:scheme+strings.Index(base[scheme:], "/")] + ref
	}
	if q := strings.IndexByte(base, '?'); q >= 0 {
		base = base[:q]
	}
	return base[:strings.LastIndex(base, "/")+1] + ref
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func randomHex(t *testing.T, n int) string { return hex.EncodeToString(randomBytes(t, n)) }

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsFront is Caddy in front of every host, rendered by the caddy role with
// operator-supplied certificate files. A nil *tlsFront is plain HTTP.
type tlsFront struct {
	certFile, keyFile, home string
	https, http             int
	pool                    *x509.CertPool
}

// deployTLS makes a self-signed certificate for every host's address and
// sets the TLS variables, or returns nil when Caddy is not installed.
func deployTLS(t *testing.T, dir string, hosts map[string][]invHost, vars map[string]any) *tlsFront {
	t.Helper()
	if _, err := exec.LookPath("caddy"); err != nil {
		t.Log("caddy not installed (apt-get install caddy): the fleet runs without TLS")
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "livestreams deploy test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, group := range hosts {
		for _, h := range group {
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(h.addr))
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	f := &tlsFront{certFile: filepath.Join(dir, "tls.crt"), keyFile: filepath.Join(dir, "tls.key"), home: filepath.Join(dir, "caddy-home"),
		https: testutil.FreePort(t), http: testutil.FreePort(t), pool: x509.NewCertPool()}
	f.pool.AddCert(cert)
	writeFile(t, f.certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, f.keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	for k, v := range map[string]any{
		"livestreams_tls_enabled":    true,
		"livestreams_tls_mode":       "files",
		"livestreams_tls_cert_file":  f.certFile,
		"livestreams_tls_key_file":   f.keyFile,
		"livestreams_tls_https_port": f.https,
		"livestreams_tls_http_port":  f.http,
		"livestreams_control_domain": "{{ livestreams_public_addr }}",
		"livestreams_edge_domain":    "{{ livestreams_public_addr }}",
		// Several Caddys on one machine: no shared admin port.
		"livestreams_caddy_admin": "off",
		// Edges relay from each other through their public HTTPS URLs: the
		// services trust the operator's CA.
		"livestreams_environment": map[string]string{"SSL_CERT_FILE": f.certFile},
	} {
		vars[k] = v
	}
	return f
}

// start runs Caddy with host h's rendered Caddyfile, as the Debian
// package's unit does.
func (f *tlsFront) start(t *testing.T, rendered string, h invHost) {
	t.Helper()
	if f == nil {
		return
	}
	home := filepath.Join(f.home, h.name)
	u := &unit{path: filepath.Join(rendered, h.name, "etc/caddy/Caddyfile"),
		execStart: []string{"caddy", "run", "--environ", "--adapter", "caddyfile", "--config", filepath.Join(rendered, h.name, "etc/caddy/Caddyfile")},
		env:       []string{"HOME=" + home, "XDG_DATA_HOME=" + home, "XDG_CONFIG_HOME=" + home}}
	startUnit(t, h.name+" caddy", u)
}

// check waits until h answers path over HTTPS with the test's certificate
// and its HTTP port redirects there; it returns h's HTTPS base URL.
func (f *tlsFront) check(t *testing.T, h invHost, path string) string {
	t.Helper()
	base := "https://" + h.addr + ":" + strconv.Itoa(f.https)
	c := f.client()
	testutil.Until(t, 30*time.Second, h.name+" over HTTPS", func() error {
		resp, err := c.Get(base + path)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s%s: %d", base, path, resp.StatusCode)
		}
		return nil
	})
	noFollow := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get("http://" + h.addr + ":" + strconv.Itoa(f.http) + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusPermanentRedirect || loc != base+path {
		t.Errorf("plain HTTP to %s: %d %q, want a redirect to %s", h.name, resp.StatusCode, loc, base+path)
	}
	return base
}

// client trusts the test's certificate (a plain client when f is nil).
func (f *tlsFront) client() *http.Client {
	c := &http.Client{Timeout: 10 * time.Second}
	if f != nil {
		c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.pool}}
	}
	return c
}

// env is what the CLI needs to trust the test's certificate.
func (f *tlsFront) env() []string {
	if f == nil {
		return nil
	}
	return []string{"SSL_CERT_FILE=" + f.certFile}
}

// TestDeployRolesCoverEveryFlag checks that every flag of `livestreams
// control` and `livestreams edge` has a named setting in its role's
// environment template, so group and host variables can set all of them.
func TestDeployRolesCoverEveryFlag(t *testing.T) {
	t.Parallel()
	flagRe := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)
	for cmd, tmpl := range map[string]string{
		"control": "../deploy/ansible/roles/control_plane/templates/control.env.j2",
		"edge":    "../deploy/ansible/roles/edge/templates/edge.env.j2",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		help, _ := exec.CommandContext(ctx, binary, cmd, "--help").CombinedOutput()
		cancel()
		text := readFile(t, tmpl)
		flags := flagRe.FindAllStringSubmatch(string(help), -1)
		if len(flags) < 10 {
			t.Fatalf("livestreams %s --help lists %d flags:\n%s", cmd, len(flags), help)
		}
		for _, m := range flags {
			if !strings.Contains(text, "'"+m[1]+"':") {
				t.Errorf("%s: no setting for --%s of livestreams %s", tmpl, m[1], cmd)
			}
		}
	}
}
