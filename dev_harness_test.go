package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// devPoll is how often the dev tests check a condition: a check is an HTTP
// round trip to a cluster that is busy transcoding on the same machine.
const devPoll = 200 * time.Millisecond

// startDev starts a dev cluster on free loopback ports for one test; its
// logs go to the test log when LIVESTREAMS_TEST_LOG is set.
func startDev(t testing.TB) *devCluster {
	t.Helper()
	return startDevWith(t, nil)
}

// startDevWith is startDev with the config changed by set (when not nil).
func startDevWith(t testing.TB, set func(*devConfig)) *devCluster {
	t.Helper()
	mediatest.RequireFFmpeg(t)
	ctx := testutil.Context(t, 60*time.Second)
	var c *devCluster
	var err error
	for attempt := 0; attempt < 3; attempt++ { // free ports can race with other processes
		cfg := devConfig{DataDir: t.TempDir(), HTTPAddr: testutil.FreeAddr(t), RTMPAddr: testutil.FreeAddr(t),
			EdgeAddr: testutil.FreeAddr(t), QUICAddr: testutil.FreeAddr(t), RaftAddr: testutil.FreeAddr(t), Logger: testutil.Logger(t)}
		if set != nil {
			set(&cfg)
		}
		c, err = startDevCluster(ctx, cfg)
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("start dev cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

type testStream struct {
	ID, Key, PlaybackID string
}

// newStream creates a stream through the API and reads back its key.
func newStream(t testing.TB, c *devCluster, body client.StreamCreate) testStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.API.Streams().Create(ctx, body)
	if err != nil {
		t.Fatal(err)
	}
	ts := testStream{ID: s.ID, PlaybackID: s.PlaybackID}
	key, err := c.API.Streams().Key(ctx, ts.ID)
	if err != nil {
		t.Fatal(err)
	}
	ts.Key = key
	return ts
}

// publish runs a real ffmpeg publisher of a synthetic size source (with a
// tone if audio, a keyframe a second) for the given duration; it returns
// the running command.
func publish(t *testing.T, rtmpURL string, width, height, seconds int, audio bool) *exec.Cmd {
	t.Helper()
	return mediatest.Publish(t, rtmpURL, mediatest.Live{Spec: mediatest.Spec{Width: width, Height: height, Seconds: seconds, GOP: 30, Audio: audio}})
}

// get fetches a URL, following redirects, and returns status, body and the
// final URL.
func get(t *testing.T, u string) (int, []byte, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		return 0, nil, u
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, body, resp.Request.URL.String()
}

// resolve returns ref relative to base.
func resolve(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		return ref
	}
	r, err := b.Parse(ref)
	if err != nil {
		return ref
	}
	return r.String()
}

type variant struct {
	Resolution, Codecs, URI string
}

var attrRe = regexp.MustCompile(`([A-Z-]+)=("[^"]*"|[^,]*)`)

func parseMaster(body string) []variant {
	var out []variant
	sc := bufio.NewScanner(strings.NewReader(body))
	var pending *variant
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			v := variant{}
			for _, m := range attrRe.FindAllStringSubmatch(strings.TrimPrefix(line, "#EXT-X-STREAM-INF:"), -1) {
				val := strings.Trim(m[2], `"`)
				switch m[1] {
				case "RESOLUTION":
					v.Resolution = val
				case "CODECS":
					v.Codecs = val
				}
			}
			pending = &v
		case line != "" && !strings.HasPrefix(line, "#") && pending != nil:
			pending.URI = line
			out = append(out, *pending)
			pending = nil
		}
	}
	return out
}

// mediaPlaylist returns the init segment URI and the segment URIs.
func mediaPlaylist(body string) (initURI string, segs []string, ended bool) {
	mapRe := regexp.MustCompile(`#EXT-X-MAP:URI="([^"]+)"`)
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if m := mapRe.FindStringSubmatch(line); m != nil {
			initURI = m[1]
		} else if line == "#EXT-X-ENDLIST" {
			ended = true
		} else if line != "" && !strings.HasPrefix(line, "#") {
			segs = append(segs, line)
		}
	}
	return
}

// probe runs ffprobe on a file and returns its streams as "codec WxH" lines
// plus the duration.
func probe(t testing.TB, file string) (string, error) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height:format=duration",
		"-of", "compact", file).CombinedOutput()
	return string(out), err
}

// decodeSegment writes init+segment to a file and has ffprobe decode it.
func decodeSegment(t *testing.T, initURL, segURL string) string {
	t.Helper()
	_, initData, _ := get(t, initURL)
	code, segData, _ := get(t, segURL)
	if code != http.StatusOK {
		t.Fatalf("segment %s: status %d", path.Base(segURL), code)
	}
	f := t.TempDir() + "/seg.mp4"
	os.WriteFile(f, append(initData, segData...), 0o644)
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=codec_type,width,height,nb_read_frames",
		"-of", "compact", f).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe segment %s: %v: %s", segURL, err, out)
	}
	return string(out)
}
