package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSnapshotSave(t *testing.T) {
	f := newFake(t)
	path := filepath.Join(t.TempDir(), "state.snap")
	res := f.run(t, runOpts{}, "snapshot", "save", path)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, f.snapshot) {
		t.Fatalf("file holds %d bytes (%v), want the %d of the snapshot", len(got), err, len(f.snapshot))
	}
	if want := "Wrote " + strconv.Itoa(len(f.snapshot)) + " bytes to " + path + "\n"; res.stdout != want {
		t.Errorf("stdout = %q, want %q", res.stdout, want)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: the snapshot holds secrets", st.Mode().Perm())
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

// TestSnapshotSaveServerDies cuts the transfer in the middle: the command
// fails with one line and leaves no file, or the old file untouched.
func TestSnapshotSaveServerDies(t *testing.T) {
	for _, tt := range []struct {
		name          string
		contentLength bool
		existing      string
	}{
		{"chunked", false, ""},
		{"content length", true, ""},
		{"keeps the previous file", false, "previous snapshot"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dying := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/octet-stream")
				if tt.contentLength {
					w.Header().Set("Content-Length", strconv.Itoa(1<<20))
				}
				w.Write(bytes.Repeat([]byte("x"), 64<<10))
				http.NewResponseController(w).Flush()
				panic(http.ErrAbortHandler) // the node dies mid-stream
			}))
			defer dying.Close()
			dir := t.TempDir()
			path := filepath.Join(dir, "state.snap")
			if tt.existing != "" {
				writeFile(t, dir, "state.snap", tt.existing)
			}
			res := runWith(t, map[string]string{"LIVESTREAMS_ADDR": dying.URL, "LIVESTREAMS_TOKEN": adminKey}, runOpts{}, "snapshot", "save", path)
			if res.code != 1 {
				t.Errorf("exit %d, want 1", res.code)
			}
			if !strings.HasPrefix(res.stderr, "livestreams: save snapshot: ") || strings.Count(res.stderr, "\n") != 1 {
				t.Errorf("stderr = %q, want one line", res.stderr)
			}
			if res.stdout != "" {
				t.Errorf("stdout = %q", res.stdout)
			}
			got, err := os.ReadFile(path)
			switch {
			case tt.existing == "" && !os.IsNotExist(err):
				t.Errorf("%s exists after a failed save (%d bytes)", path, len(got))
			case tt.existing != "" && string(got) != tt.existing:
				t.Errorf("previous file changed to %d bytes", len(got))
			}
			if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
				t.Errorf("temporary file left behind: %v", err)
			}
		})
	}
}

func TestSnapshotSaveAPIError(t *testing.T) {
	f := newFake(t)
	path := filepath.Join(t.TempDir(), "state.snap")
	res := f.run(t, runOpts{env: map[string]string{"LIVESTREAMS_TOKEN": viewerKey}}, "snapshot", "save", path)
	if res.code != 1 || res.stderr != "livestreams: not allowed (HTTP 403 forbidden)\n" {
		t.Errorf("code %d stderr %q", res.code, res.stderr)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
		t.Errorf("files created on an API error: %v", entries)
	}
}

// TestSnapshotSaveHasNoTimeout streams a snapshot slower than the request
// timeout allows an ordinary call.
func TestSnapshotSaveHasNoTimeout(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			w.Write([]byte("part "))
			http.NewResponseController(w).Flush()
			time.Sleep(40 * time.Millisecond)
		}
	}))
	defer slow.Close()
	path := filepath.Join(t.TempDir(), "state.snap")
	res := runWith(t, map[string]string{"LIVESTREAMS_ADDR": slow.URL}, runOpts{timeout: 10 * time.Millisecond}, "snapshot", "save", path)
	if got, _ := os.ReadFile(path); res.code != 0 || string(got) != "part part part " {
		t.Errorf("exit %d (%s), file %q", res.code, res.stderr, got)
	}
}

func TestSnapshotRestore(t *testing.T) {
	for _, confirm := range []string{"--yes", "-y"} {
		t.Run(confirm, func(t *testing.T) {
			f := newFake(t)
			path := writeFile(t, t.TempDir(), "state.snap", "saved state")
			res := f.run(t, runOpts{}, "snapshot", "restore", path, confirm)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			req := f.last()
			if req.Method != "POST" || req.Path != "/v1/cluster/restore" {
				t.Errorf("request %s %s", req.Method, req.Path)
			}
			if string(req.Body) != "saved state" || req.Header.Get("Content-Type") != "application/octet-stream" {
				t.Errorf("body %q, Content-Type %q", req.Body, req.Header.Get("Content-Type"))
			}
			if !strings.HasPrefix(res.stdout, "Restored the cluster state from "+path) {
				t.Errorf("stdout = %q", res.stdout)
			}
		})
	}
}

func TestSnapshotRestoreNeedsConfirmation(t *testing.T) {
	f := newFake(t)
	path := writeFile(t, t.TempDir(), "state.snap", "saved state")
	res := f.run(t, runOpts{}, "snapshot", "restore", path)
	if res.code != 2 || !strings.Contains(res.stderr, "replaces the entire cluster state") || !strings.Contains(res.stderr, "--yes") {
		t.Errorf("code %d stderr %q", res.code, res.stderr)
	}
	if len(f.requests()) != 0 {
		t.Error("restore sent without --yes")
	}
	res = f.run(t, runOpts{}, "snapshot", "restore", filepath.Join(t.TempDir(), "missing"), "--yes")
	if res.code != 1 || !strings.Contains(res.stderr, "no such file") || len(f.requests()) != 0 {
		t.Errorf("missing file: code %d stderr %q", res.code, res.stderr)
	}
}
