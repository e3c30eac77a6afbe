package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/objstore"
	"github.com/livestreams/livestreams/shared/objstore/objstoretest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// mediaFleet is a fleet of two edges sharing an S3 bucket on a real S3
// server (versitygw), with a short job lease so a dead edge's job moves on
// quickly.
type mediaFleet struct {
	*fleet
	gw     *objstoretest.VersityGW
	s3     *objstore.S3
	cities []*city
	// t is the whole test's: processes restarted in a subtest live on.
	t *testing.T
}

func startMediaFleet(t *testing.T) *mediaFleet {
	gw := objstoretest.StartVersityGW(t)
	st := newBucket(t, gw, "media")
	store := []string{"--object-store", "s3://media?endpoint=" + gw.Endpoint + "&region=" + gw.Region + "&path_style=1",
		"--s3-access-key", gw.AccessKey, "--s3-secret-key", gw.SecretKey}
	cities := testCities()[:2]
	f := startFleet(t, fleetOptions{Probe: "200ms", Cities: cities,
		ControlArgs: append([]string{"--job-lease-ttl", "3s"}, store...),
		EdgeArgs:    append([]string{"--max-jobs", "1", "--upload-backoff-max", "1s"}, store...),
	})
	return &mediaFleet{fleet: f, gw: gw, s3: st, cities: cities, t: t}
}

// waitAsset polls an asset until cond holds.
func (m *mediaFleet) waitAsset(t testing.TB, id string, limit time.Duration, cond func(client.Asset) bool) client.Asset {
	t.Helper()
	var a client.Asset
	testutil.UntilEvery(t, limit, 250*time.Millisecond, "asset "+id, func() error {
		var err error
		if a, err = m.client.Assets().Get(t.Context(), id); err != nil {
			return err
		}
		if !cond(a) {
			return fmt.Errorf("%+v", a)
		}
		return nil
	})
	return a
}

// recordingOf waits for the recording asset of a stream to exist.
func (m *mediaFleet) recordingOf(t testing.TB, streamID string, limit time.Duration) client.Asset {
	t.Helper()
	var found client.Asset
	testutil.UntilEvery(t, limit, 250*time.Millisecond, "the recording asset of stream "+streamID, func() error {
		page, err := m.client.Assets().List(t.Context(), client.AssetFilter{StreamID: streamID, Type: "recording"})
		if err != nil {
			return err
		}
		if len(page.Items) == 0 {
			return errors.New("none yet")
		}
		found = page.Items[0]
		return nil
	})
	return found
}

func ready(a client.Asset) bool { return a.Status == "ready" }

// publish sends seconds of a synthetic 640x360 source with audio and 2 s
// GOPs to edge c in real time; it returns the running publisher.
func publish(t testing.TB, c *city, key string, seconds int) *exec.Cmd {
	return mediatest.Publish(t, c.rtmp+"/"+key, mediatest.Live{Spec: mediatest.Spec{Width: 640, Height: 360, Seconds: seconds, GOP: 60, Audio: true}})
}

// probeDuration asks ffprobe how long what url points to plays.
func probeDuration(t testing.TB, url string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", url).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", url, err, out)
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("ffprobe %s: %q", url, out)
	}
	return d
}

var xywhRe = regexp.MustCompile(`#xywh=(\d+),(\d+),(\d+),(\d+)`)

// checkStoryboard fetches a ready asset's storyboard and checks that every
// cue's tile lies inside the sprite sheet and the cues cover the asset.
func checkStoryboard(t testing.TB, m *mediaFleet, a client.Asset) {
	t.Helper()
	code, vtt := httpGet(t, a.StoryboardURL)
	if code != http.StatusOK || !bytes.HasPrefix(vtt, []byte("WEBVTT")) {
		t.Fatalf("storyboard.vtt: %d %.200s", code, vtt)
	}
	code, sprite := httpGet(t, m.client.PlayURL(a.PlaybackID, client.PlayStoryboardJPEG, ""))
	if code != http.StatusOK {
		t.Fatalf("storyboard.jpg: %d", code)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(sprite))
	if err != nil {
		t.Fatalf("storyboard.jpg is not a JPEG: %v", err)
	}
	tiles := xywhRe.FindAllStringSubmatch(string(vtt), -1)
	if len(tiles) < 3 {
		t.Fatalf("storyboard has %d tiles:\n%s", len(tiles), vtt)
	}
	for _, tile := range tiles {
		x, _ := strconv.Atoi(tile[1])
		y, _ := strconv.Atoi(tile[2])
		w, _ := strconv.Atoi(tile[3])
		h, _ := strconv.Atoi(tile[4])
		if w <= 0 || h <= 0 || x+w > cfg.Width || y+h > cfg.Height {
			t.Errorf("tile %s is outside the %dx%d sprite", tile[0], cfg.Width, cfg.Height)
		}
	}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(vtt))
	for sc.Scan() {
		if _, end, ok := strings.Cut(sc.Text(), " --> "); ok {
			last = end
		}
	}
	if end := vttSeconds(last); end < a.Duration-1 || end > a.Duration+1 {
		t.Errorf("the last cue ends at %s; the asset lasts %.2fs", last, a.Duration)
	}
	t.Logf("storyboard: %d tiles in a %dx%d sprite", len(tiles), cfg.Width, cfg.Height)
}

func vttSeconds(s string) float64 {
	var h, m int
	var sec float64
	if n, _ := fmt.Sscanf(strings.TrimSpace(s), "%d:%d:%f", &h, &m, &sec); n == 3 {
		return float64(h*3600+m*60) + sec
	}
	if n, _ := fmt.Sscanf(strings.TrimSpace(s), "%d:%f", &m, &sec); n == 2 {
		return float64(m*60) + sec
	}
	return -1
}

// upload creates an upload and PUTs the file at path to its URL.
func (m *mediaFleet) upload(t testing.TB, path string) client.Asset {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	size := fi.Size()
	up, err := m.client.Assets().Upload(t.Context(), client.UploadCreate{Size: &size})
	if err != nil {
		t.Fatalf("create an upload: %v", err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, up.UploadURL, f)
	req.ContentLength = size
	for k, v := range up.Headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT upload: %d %s", resp.StatusCode, body)
	}
	return up.Asset
}

// jobOf waits for the asset's job to satisfy cond.
func (m *mediaFleet) jobOf(t testing.TB, assetID string, limit time.Duration, cond func(client.Job) bool) client.Job {
	t.Helper()
	var j client.Job
	testutil.UntilEvery(t, limit, 100*time.Millisecond, "the job of asset "+assetID, func() error {
		page, err := m.client.Jobs().List(t.Context(), client.JobFilter{AssetID: assetID})
		if err != nil {
			return err
		}
		if len(page.Items) == 0 {
			return errors.New("no job yet")
		}
		if j = page.Items[0]; !cond(j) {
			return fmt.Errorf("%+v", j)
		}
		return nil
	})
	return j
}

func (m *mediaFleet) city(id string) *city {
	for _, c := range m.cities {
		if c.id == id {
			return c
		}
	}
	return nil
}

// ffmpegChildren lists the running ffmpeg processes whose parent is pid.
func ffmpegChildren(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, state, ppid := procStat(child); comm == "ffmpeg" && state != "Z" && ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// isFFmpeg says whether pid is a running (not zombie) ffmpeg.
func isFFmpeg(pid int) bool {
	comm, state, _ := procStat(pid)
	return comm == "ffmpeg" && state != "Z"
}

// procStat reads a process's command name, state and parent from
// /proc/PID/stat ("pid (comm) state ppid …"); comm is "" when it is gone.
func procStat(pid int) (comm, state string, ppid int) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", "", 0
	}
	s := string(raw)
	lp, rp := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if lp < 0 || rp < lp {
		return "", "", 0
	}
	fields := strings.Fields(s[rp+1:])
	if len(fields) < 2 {
		return "", "", 0
	}
	ppid, _ = strconv.Atoi(fields[1])
	return s[lp+1 : rp], fields[0], ppid
}

// restart starts edge c again after it stopped; the process belongs to
// the whole test, so that it outlives the subtest.
func (m *mediaFleet) restart(t testing.TB, c *city) { m.fleet.restart(t, m.t, c) }

func sha256File(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

func recordings(c *city) []string {
	dir := filepath.Join(c.dataDir, "recordings")
	matches, _ := filepath.Glob(filepath.Join(dir, "*.mp4"))
	return matches
}

// TestMediaFleet runs a control plane and two edges, each its own process,
// on a real S3 server: a 20 s publish becomes a ready VOD asset with its
// objects in the bucket, playable through an edge, with a thumbnail and a
// storyboard; a clip of it; uploads (media and not); an edge killed
// mid-job; a cancelled job; an edge killed mid-publish; and an S3 outage
// across an edge restart.
func TestMediaFleet(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs several publishes and transcodes")
	}
	m := startMediaFleet(t)
	lon, lin := m.city("lon"), m.city("lin")

	var rec client.Asset
	t.Run("RecordingBecomesVOD", func(t *testing.T) {
		st := m.createStream(t, "media")
		pub := publish(t, lon, st.StreamKey, 20)
		pub.Wait()
		unpublished := time.Now()
		a := m.recordingOf(t, st.ID, 60*time.Second)
		rec = m.waitAsset(t, a.ID, 3*time.Minute, ready)
		t.Logf("unpublish → asset ready: %v (duration %.2fs)", time.Since(unpublished).Round(time.Millisecond), rec.Duration)
		if rec.Duration < 17 || rec.Duration > 23 {
			t.Errorf("recording lasts %.2fs, want about 20", rec.Duration)
		}
		var keys []string
		m.s3.List(context.Background(), "orgs/", func(o objstore.ObjectInfo) error {
			if strings.Contains(o.Key, "/"+rec.ID+"/") {
				keys = append(keys, strings.SplitN(o.Key, "/"+rec.ID+"/", 2)[1])
			}
			return nil
		})
		for _, want := range []string{"source.mp4", "hls/master.m3u8", "thumbnail.jpg", "storyboard.jpg", "storyboard.vtt"} {
			if !strings.Contains(strings.Join(keys, " "), want) {
				t.Errorf("bucket lacks %s of the asset; has %v", want, keys)
			}
		}
		if left := recordings(lon); len(left) > 0 {
			t.Errorf("the edge kept its copy after the upload: %v", left)
		}
		if d := probeDuration(t, rec.PlaybackURL); d < 17 || d > 23 {
			t.Errorf("the VOD plays %.2fs", d)
		}
		for _, u := range []string{rec.ThumbnailURL, rec.ThumbnailURL + "?time=12.5"} {
			code, body := httpGet(t, u)
			if code != http.StatusOK || !bytes.HasPrefix(body, []byte{0xff, 0xd8}) {
				t.Errorf("%s: %d, %d bytes, not a JPEG", u, code, len(body))
			}
		}
		checkStoryboard(t, m, rec)
	})
	if rec.ID == "" {
		t.Fatal("no recording to go on with")
	}

	t.Run("Clip", func(t *testing.T) {
		start, end := 4.0, 9.0
		out, err := m.client.Assets().Clip(t.Context(), rec.ID, client.ClipCreate{Start: &start, End: &end})
		if err != nil {
			t.Fatalf("clip: %v", err)
		}
		clip := m.waitAsset(t, out.Asset.ID, 2*time.Minute, ready)
		// A stream copy starts on a keyframe: the publish has one every
		// 2 s, and the clip must be within one GOP of what was asked.
		if clip.Duration < 5-2 || clip.Duration > 5+2 {
			t.Errorf("a 5 s clip lasts %.2fs", clip.Duration)
		}
		if code, body := httpGet(t, clip.ThumbnailURL); code != http.StatusOK || !bytes.HasPrefix(body, []byte{0xff, 0xd8}) {
			t.Errorf("clip thumbnail: %d", code)
		}
		t.Logf("5 s clip: %.2fs", clip.Duration)
	})

	t.Run("Upload", func(t *testing.T) {
		a := m.upload(t, mediatest.File(t, mediatest.Spec{Width: 320, Height: 240, Seconds: 4, Audio: true}))
		a = m.waitAsset(t, a.ID, 2*time.Minute, ready)
		if d := probeDuration(t, a.PlaybackURL); d < 3 || d > 5 {
			t.Errorf("uploaded VOD plays %.2fs", d)
		}
		text := filepath.Join(t.TempDir(), "notes.mp4")
		os.WriteFile(text, bytes.Repeat([]byte("this is not a video\n"), 100), 0o644)
		bad := m.upload(t, text)
		bad = m.waitAsset(t, bad.ID, time.Minute, func(a client.Asset) bool { return a.Status == "errored" })
		if !strings.Contains(bad.Error, "not a media file") {
			t.Errorf("errored upload says %q", bad.Error)
		}
		if info, err := m.s3.Stat(context.Background(), "orgs/"+bad.OrgID+"/assets/"+bad.ID+"/source.mp4"); err == nil {
			t.Errorf("the rejected upload is still in the bucket: %+v", info)
		}
		t.Logf("text upload: %s", bad.Error)
	})

	big := mediatest.File(t, mediatest.Spec{Width: 1280, Height: 720, Seconds: 40, Audio: true})
	t.Run("EdgeKilledMidJob", func(t *testing.T) {
		a := m.upload(t, big)
		j := m.jobOf(t, a.ID, time.Minute, func(j client.Job) bool { return j.State == "running" && j.LeaseHolder != "" })
		victim := m.city(j.LeaseHolder)
		victim.p.Kill()
		killed := time.Now()
		a = m.waitAsset(t, a.ID, 4*time.Minute, ready)
		j = m.jobOf(t, a.ID, 10*time.Second, func(j client.Job) bool { return j.State == "succeeded" })
		t.Logf("killed %s; job succeeded %v later after %d attempts: %+v", victim.id, time.Since(killed).Round(time.Second), j.Attempts, j.History)
		if j.Attempts < 2 || len(j.History) < 2 || j.History[0].Edge != victim.id || j.History[len(j.History)-1].Edge == victim.id {
			t.Errorf("attempts do not show the move: %+v", j.History)
		}
		m.restart(t, victim)
	})

	t.Run("CancelStopsFFmpeg", func(t *testing.T) {
		a := m.upload(t, big)
		j := m.jobOf(t, a.ID, time.Minute, func(j client.Job) bool { return j.State == "running" && j.LeaseHolder != "" })
		holder := m.city(j.LeaseHolder)
		var pids []int
		testutil.Until(t, 20*time.Second, "an ffmpeg under the edge running the job", func() error {
			if pids = ffmpegChildren(holder.p.Pid()); len(pids) == 0 {
				return errors.New("none")
			}
			return nil
		})
		if _, err := m.client.Jobs().Cancel(t.Context(), j.ID); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		gone := testutil.Until(t, 10*time.Second, "ffmpeg gone after the cancel", func() error {
			if left := ffmpegChildren(holder.p.Pid()); len(left) > 0 {
				return fmt.Errorf("ffmpeg %v still runs", left)
			}
			return nil
		})
		// The figure (well under a second when idle) is logged, not
		// asserted: the 10 s bound above is what a busy machine keeps.
		t.Logf("cancel → ffmpeg gone: %v", gone.Round(time.Millisecond))
		m.jobOf(t, a.ID, 15*time.Second, func(j client.Job) bool { return j.State == "cancelled" })
	})

	t.Run("EdgeKilledMidPublish", func(t *testing.T) {
		st := m.createStream(t, "media")
		publish(t, lon, st.StreamKey, 120)
		testutil.UntilEvery(t, 30*time.Second, 200*time.Millisecond, "the stream going live", func() error {
			if code, loc := redirectFor(t, m.api, st.PlaybackID, lon.ip); code != http.StatusFound {
				return fmt.Errorf("play answered %d %q", code, loc)
			}
			return nil
		})
		time.Sleep(8 * time.Second) // the length of the publish before the crash, not a wait for something
		ffmpegs := ffmpegChildren(lon.p.Pid())
		lon.p.Kill()
		// The orphaned ffmpeg sees its input end and exits.
		testutil.Until(t, 10*time.Second, "the killed edge's ffmpeg exiting", func() error {
			for _, pid := range ffmpegs {
				if isFFmpeg(pid) {
					return fmt.Errorf("ffmpeg %d still runs", pid)
				}
			}
			return nil
		})
		m.restart(t, lon)
		a := m.recordingOf(t, st.ID, time.Minute)
		a = m.waitAsset(t, a.ID, 3*time.Minute, ready)
		if a.Duration < 4 {
			t.Errorf("the recovered recording lasts %.2fs", a.Duration)
		}
		t.Logf("recovered recording: %.2fs", a.Duration)
	})

	t.Run("S3OutageAndRestart", func(t *testing.T) {
		m.gw.Stop()
		st := m.createStream(t, "media")
		publish(t, lin, st.StreamKey, 8).Wait()
		var files []string
		testutil.UntilEvery(t, 30*time.Second, 200*time.Millisecond, "one recording on the edge", func() error {
			if files = recordings(lin); len(files) != 1 {
				return fmt.Errorf("recordings: %v", files)
			}
			return nil
		})
		time.Sleep(2 * time.Second) // the outage lasts long enough for the queue to try and fail
		sum := sha256File(t, files[0])
		if err := lin.p.Stop(); err != nil {
			t.Errorf("edge lin on SIGTERM: %v", err)
		}
		m.restart(t, lin)
		m.gw.Start()
		a := m.recordingOf(t, st.ID, time.Minute)
		m.waitAsset(t, a.ID, 3*time.Minute, ready)
		rc, info, err := m.s3.Get(context.Background(), "orgs/"+a.OrgID+"/assets/"+a.ID+"/source.mp4")
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, rc)
		rc.Close()
		if got := hex.EncodeToString(h.Sum(nil)); got != sum {
			t.Errorf("stored recording sha256 %s (%d bytes), local copy had %s", got, info.Size, sum)
		}
		if left := recordings(lin); len(left) > 0 {
			t.Errorf("the local copy is still there: %v", left)
		}
	})
}
