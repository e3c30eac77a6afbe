package hls_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// loadgenEnv, when set in the environment of this test binary, makes it a
// load generator instead of a test run: the benchmarks start it as a
// separate process so that the client's CPU and garbage collector do not
// share a Go runtime (GOMAXPROCS, scheduler, GC) with the server under
// test, as they would not with nginx.
const loadgenEnv = "LIVESTREAMS_HLS_LOADGEN"

func TestMain(m *testing.M) {
	if spec := os.Getenv(loadgenEnv); spec != "" {
		os.Exit(runLoadgen(spec))
	}
	os.Exit(m.Run())
}

// loadSpec is what the benchmark asks of the load generator.
type loadSpec struct {
	Mode     string        // "segments": fetch URL in a loop; "viewers": play live playlists
	URLs     []string      // segments: one URL; viewers: media playlists, viewer i plays URLs[i%len]
	Size     int64         // segments: the expected body size
	Conc     int           // segments: concurrent clients; viewers: viewers
	Duration time.Duration // how long to load
	Ramp     time.Duration // viewers: joins spread over this long
}

// loadResult is what it prints, as JSON, on its last line.
type loadResult struct {
	Requests   int64         `json:"requests"`
	Segments   int64         `json:"segments"`
	Errors     int64         `json:"errors"`
	Bytes      int64         `json:"bytes"`
	P50        time.Duration `json:"p50"`
	P99        time.Duration `json:"p99"`
	Max        time.Duration `json:"max"`
	ClientCPU  time.Duration `json:"client_cpu"`
	Elapsed    time.Duration `json:"elapsed"`
	FirstError string        `json:"first_error,omitempty"`
}

// runLoad starts the load generator process and returns its result.
func runLoad(b *testing.B, spec loadSpec) loadResult {
	b.Helper()
	js, err := json.Marshal(spec)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), spec.Duration+spec.Ramp+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), loadgenEnv+"="+string(js))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("load generator: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res loadResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		b.Fatalf("load generator output %q: %v", out, err)
	}
	return res
}

func runLoadgen(specJSON string) int {
	var spec loadSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen spec:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), spec.Ramp+spec.Duration)
	defer cancel()
	// One transport for every client, as one player process would not
	// have, but as a cheap load generator must: bounded idle connections,
	// no compression (segments do not compress, playlists barely).
	tr := &http.Transport{MaxIdleConns: spec.Conc * 2, MaxIdleConnsPerHost: spec.Conc * 2,
		MaxConnsPerHost: spec.Conc, DisableCompression: true, IdleConnTimeout: time.Minute}
	client := &http.Client{Transport: tr}
	st := &loadStats{}
	start, cpu0 := time.Now(), processCPU()
	var wg sync.WaitGroup
	for i := range spec.Conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch spec.Mode {
			case "segments":
				fetchLoop(ctx, client, spec.URLs[0], spec.Size, st)
			case "viewers":
				delay := time.Duration(0)
				if spec.Conc > 1 {
					delay = spec.Ramp * time.Duration(i) / time.Duration(spec.Conc)
				}
				play(ctx, client, spec.URLs[i%len(spec.URLs)], delay, st)
			}
		}()
	}
	wg.Wait()
	tr.CloseIdleConnections()
	res := st.result()
	res.ClientCPU, res.Elapsed = processCPU()-cpu0, time.Since(start)
	js, _ := json.Marshal(res)
	fmt.Println(string(js))
	return 0
}

// loadStats collects what the clients saw.
type loadStats struct {
	requests, segments, errors, bytes atomic.Int64

	mu        sync.Mutex
	latencies []time.Duration // of segments
	firstErr  string
}

func (s *loadStats) fail(err error) {
	s.errors.Add(1)
	s.mu.Lock()
	if s.firstErr == "" {
		s.firstErr = err.Error()
	}
	s.mu.Unlock()
}

func (s *loadStats) result() loadResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	slices.Sort(s.latencies)
	pct := func(p float64) time.Duration {
		if len(s.latencies) == 0 {
			return 0
		}
		return s.latencies[min(int(float64(len(s.latencies))*p), len(s.latencies)-1)]
	}
	r := loadResult{Requests: s.requests.Load(), Segments: s.segments.Load(), Errors: s.errors.Load(),
		Bytes: s.bytes.Load(), P50: pct(0.50), P99: pct(0.99), FirstError: s.firstErr}
	if n := len(s.latencies); n > 0 {
		r.Max = s.latencies[n-1]
	}
	return r
}

// get fetches u and returns its body's length; the body is read into buf
// when buf is not nil (a playlist), else discarded (a segment).
func get(ctx context.Context, client *http.Client, u string, buf *bytes.Buffer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var n int64
	if buf != nil {
		n, err = buf.ReadFrom(resp.Body)
	} else {
		n, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return n, err
	}
	if resp.StatusCode != http.StatusOK {
		return n, fmt.Errorf("GET %s: %s", resp.Request.URL.Path, resp.Status)
	}
	return n, nil
}

func fetchLoop(ctx context.Context, client *http.Client, u string, size int64, st *loadStats) {
	for ctx.Err() == nil {
		t0 := time.Now()
		n, err := get(ctx, client, u, nil)
		if ctx.Err() != nil {
			return // cut off by the end of the run, not an error
		}
		st.requests.Add(1)
		switch {
		case err != nil:
			st.fail(err)
		case n != size:
			st.fail(fmt.Errorf("body of %d bytes, want %d", n, size))
		default:
			st.bytes.Add(n)
			st.segments.Add(1)
			st.mu.Lock()
			st.latencies = append(st.latencies, time.Since(t0))
			st.mu.Unlock()
		}
	}
}

// play behaves like a live HLS player on one media playlist: it joins
// three segments from the live edge, reloads the playlist every target
// duration (half of it when nothing was new, as RFC 8216 6.3.4 asks), and
// fetches every new segment once, in order.
func play(ctx context.Context, client *http.Client, playlist string, delay time.Duration, st *loadStats) {
	if !wait(ctx, delay) {
		return
	}
	base, err := url.Parse(playlist)
	if err != nil {
		st.fail(err)
		return
	}
	var buf bytes.Buffer
	last := "" // the last segment fetched
	for ctx.Err() == nil {
		buf.Reset()
		_, err := get(ctx, client, playlist, &buf)
		if ctx.Err() != nil {
			return
		}
		st.requests.Add(1)
		if err != nil {
			st.fail(err)
			if !wait(ctx, time.Second) {
				return
			}
			continue
		}
		target, segs := parseMedia(buf.Bytes())
		next := newSegments(segs, last)
		for _, s := range next {
			ref, err := base.Parse(s)
			if err != nil {
				st.fail(err)
				continue
			}
			t0 := time.Now()
			n, err := get(ctx, client, ref.String(), nil)
			if ctx.Err() != nil {
				return
			}
			st.requests.Add(1)
			if err != nil {
				st.fail(err)
				continue
			}
			st.segments.Add(1)
			st.bytes.Add(n)
			st.mu.Lock()
			st.latencies = append(st.latencies, time.Since(t0))
			st.mu.Unlock()
			last = s
		}
		reload := target
		if len(next) == 0 {
			reload = target / 2
		}
		if !wait(ctx, reload) {
			return
		}
	}
}

// newSegments returns the segments after last, or the last three when last
// is not listed (joining, or fallen out of the window).
func newSegments(segs []string, last string) []string {
	if i := slices.Index(segs, last); i >= 0 {
		return segs[i+1:]
	}
	return segs[max(len(segs)-3, 0):]
}

// parseMedia returns a media playlist's target duration and segment URIs.
func parseMedia(b []byte) (time.Duration, []string) {
	target := 2 * time.Second
	var segs []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "#EXT-X-TARGETDURATION:"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				target = time.Duration(n) * time.Second
			}
			continue
		}
		if line != "" && line[0] != '#' {
			segs = append(segs, line)
		}
	}
	return target, segs
}

// wait waits d or until ctx ends; it reports whether ctx is still live.
// This is a player's pacing, not synchronization.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// processCPU is the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pidCPU is the user+system CPU time process pid has used, from /proc.
func pidCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stt, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+stt) * time.Second / clkTck, nil
}

// treeCPU is the CPU time of pid and its direct children (nginx's master
// and workers).
func treeCPU(pid int) time.Duration {
	total, _ := pidCPU(pid)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			c, _ := pidCPU(child)
			total += c
		}
	}
	return total
}
