package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// devPorts are the listen addresses `livestreams dev` takes, on free
// ports, as flags: the only change to the README's command line.
func devPorts(t testing.TB) []string {
	var args []string
	for _, flag := range []string{"--http-addr", "--rtmp-addr", "--rtmps-addr", "--srt-addr", "--edge-http-addr", "--quic-addr", "--raft-addr"} {
		args = append(args, flag+"="+testutil.FreeAddr(t))
	}
	return args
}

// devOutput is what `livestreams dev` prints for a creator.
type devOutput struct {
	DataDir, Dashboard, Email, Password, RTMPURL, PlaybackURL string
	// Addr and Token are the values of the printed export line.
	Addr, Token string
}

var (
	devReadyRe = regexp.MustCompile(`Press Ctrl-C to stop`)
	devLineRes = map[string]*regexp.Regexp{
		"data dir":     regexp.MustCompile(`data in (\S+)\)`),
		"dashboard":    regexp.MustCompile(`(?m)^\s*Dashboard\s+(\S+)$`),
		"sign in":      regexp.MustCompile(`(?m)^\s*sign in as (\S+) / (\S+)$`),
		"RTMP URL":     regexp.MustCompile(`(?m)^\s*RTMP URL\s+(\S+)$`),
		"playback URL": regexp.MustCompile(`(?m)^\s*Playback URL\s+(\S+)$`),
		"export line":  regexp.MustCompile(`(?m)^\s*export LIVESTREAMS_ADDR=(\S+) LIVESTREAMS_TOKEN=(\S+)$`),
	}
)

// waitDevOutput waits for a `livestreams dev` (or `make run`) to print its
// URLs and reads them.
func waitDevOutput(t testing.TB, p *proc, within time.Duration) devOutput {
	t.Helper()
	p.WaitOutput(t, within, devReadyRe)
	out := p.Output()
	m := map[string][]string{}
	for name, re := range devLineRes {
		if m[name] = re.FindStringSubmatch(out); m[name] == nil {
			t.Fatalf("%s printed no %s:\n%s", p.spec.Name, name, out)
		}
	}
	return devOutput{DataDir: m["data dir"][1], Dashboard: m["dashboard"][1], Email: m["sign in"][1], Password: m["sign in"][2],
		RTMPURL: m["RTMP URL"][1], PlaybackURL: m["playback URL"][1], Addr: m["export line"][1], Token: m["export line"][2]}
}

// checkLogin signs in at the printed dashboard URL with the printed email
// and password, and uses the printed API key, as a creator would.
func checkLogin(t testing.TB, d devOutput) {
	t.Helper()
	anon := newClient(t, "", strings.TrimSuffix(d.Dashboard, "/"))
	login, err := anon.Auth().Login(t.Context(), client.Login{Email: d.Email, Password: d.Password})
	if err != nil || login.Token == "" {
		t.Fatalf("login with the printed email and password: %v", err)
	}
	for what, c := range map[string]*client.Client{"the session token": anon.As(login.Token, ""), "the printed API key": newClient(t, d.Token, d.Addr)} {
		if _, err := c.Auth().Me(t.Context()); err != nil {
			t.Errorf("GET /v1/me with %s: %v", what, err)
		}
	}
}

// TestREADMEDev runs `livestreams dev` as the README's quick start does:
// the built binary in a working directory of its own, the relative
// default --data-dir, default flags but for free ports. Every URL and
// credential it prints works: the dashboard, the login, the export line
// with the CLI, a publish to the RTMP URL, the playback URL; Ctrl-C stops
// it cleanly.
func TestREADMEDev(t *testing.T) {
	t.Parallel()
	mediatest.RequireFFmpeg(t)
	work := t.TempDir()
	p := startProc(t, procSpec{Name: "livestreams dev", Dir: work, Args: append([]string{"dev", "--data-dir", ".data/dev"}, devPorts(t)...)})
	d := waitDevOutput(t, p, 90*time.Second)
	if want := filepath.Join(work, ".data", "dev"); d.DataDir != want {
		t.Errorf("data dir printed %s, want %s", d.DataDir, want)
	}
	if _, err := os.Stat(filepath.Join(work, ".data", "dev", "dev-credentials.json")); err != nil {
		t.Errorf("the relative data dir is not under the working directory: %v", err)
	}

	code, page := httpGet(t, d.Dashboard)
	if code != http.StatusOK || !bytes.Contains(bytes.ToLower(page), []byte("<html")) {
		t.Errorf("dashboard %s: %d %.100s", d.Dashboard, code, page)
	}
	checkLogin(t, d)

	env := []string{"LIVESTREAMS_ADDR=" + d.Addr, "LIVESTREAMS_TOKEN=" + d.Token}
	if out := mustCLI(t, env, "stream", "list"); !strings.Contains(out, "demo") {
		t.Errorf("livestreams stream list with the printed export line lacks the demo stream:\n%s", out)
	}

	mediatest.Publish(t, d.RTMPURL, mediatest.Live{Spec: mediatest.Spec{Width: 640, Height: 360, Seconds: 60, Audio: true}})
	testutil.UntilEvery(t, 45*time.Second, 250*time.Millisecond, "the playback URL serving a master playlist", func() error {
		code, body := httpGet(t, d.PlaybackURL) // follows the redirect to the edge
		if code != http.StatusOK || !bytes.Contains(body, []byte("#EXT-X-STREAM-INF")) {
			return fmt.Errorf("%d %.200s", code, body)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "stream=codec_type,width,height",
		"-of", "compact", d.PlaybackURL).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "codec_type=video") || !strings.Contains(string(out), "codec_type=audio") {
		t.Errorf("ffprobe of the playback URL: %v\n%s", err, out)
	}
	t.Logf("ffprobe %s:\n%s", d.PlaybackURL, out)

	if err := p.StopWith(syscall.SIGINT); err != nil {
		t.Errorf("livestreams dev on Ctrl-C: %v", err)
	}
}

// TestMakeRunTwice runs `make run` in a fresh copy of the working tree, as
// on a fresh clone, with the Makefile's default data dir (only the ports
// changed, through ARGS), checks the printed login and API key, stops it
// with Ctrl-C, and runs it again on the same data: the same login and key
// still work.
func TestMakeRunTwice(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary in a copy of the tree")
	}
	for _, bin := range []string{"make", "git"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is required: %v", bin, err)
		}
	}
	clone := copyTree(t, "..", t.TempDir())
	args := "ARGS=" + strings.Join(devPorts(t), " ")
	var first devOutput
	for run := 1; run <= 2; run++ {
		// The first run builds the binary in the copy, from the Go
		// build cache at best.
		// A make running this test (make test) passes its flags and
		// command-line variables down through MAKEFLAGS; a person's
		// make run has none.
		p := startProc(t, procSpec{Name: fmt.Sprintf("make run (%d)", run), Bin: "make", Args: []string{"run", args},
			Env: []string{"MAKEFLAGS=", "MFLAGS=", "MAKELEVEL="}, Dir: clone, Group: true, StopWithin: 30 * time.Second})
		d := waitDevOutput(t, p, 5*time.Minute)
		if want := filepath.Join(clone, ".data", "dev"); d.DataDir != want {
			t.Errorf("run %d: data dir %s, want the Makefile's default %s", run, d.DataDir, want)
		}
		checkLogin(t, d)
		if run == 1 {
			first = d
		} else if d.Email != first.Email || d.Password != first.Password || d.Token != first.Token {
			t.Errorf("the second run printed other credentials: %s / %s, key changed: %v", d.Email, d.Password, d.Token != first.Token)
		}
		if run == 2 {
			checkLogin(t, first)
		}
		p.StopWith(syscall.SIGINT) // make reports the interrupt with a non-zero exit
		select {
		case <-p.Done():
		default:
			t.Fatalf("run %d: make run did not stop", run)
		}
		if strings.Contains(p.Output(), "Error:") {
			t.Errorf("run %d printed an error:\n%s", run, testutil.LastLines(p.Output(), 20))
		}
	}
}

// copyTree copies the files git would put in a clone of the working tree
// at src (tracked, and new files not ignored) to dst, and returns dst.
func copyTree(t testing.TB, src, dst string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "ls-files", "-z", "-co", "--exclude-standard")
	cmd.Dir = src
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	n := 0
	for _, name := range strings.Split(string(out), "\x00") {
		if name == "" {
			continue
		}
		from := filepath.Join(src, name)
		fi, err := os.Lstat(from)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree, not yet in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(from)
			if err == nil {
				err = os.Symlink(target, to)
			}
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		raw, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, raw, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		n++
	}
	t.Logf("copied %d files of the working tree to %s", n, dst)
	return dst
}
