package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/geoip/geoiptest"
	"github.com/livestreams/livestreams/shared/mediatest"
	"github.com/livestreams/livestreams/shared/objstore/objstoretest"
	"github.com/livestreams/livestreams/shared/testutil"
)

// viewerPlace is where a simulated viewer is: a network of the generated
// GeoIP database (or none it knows: "unknown").
type viewerPlace struct {
	country, city string
	ip            func(i int) netip.Addr
}

func analyticsPlaces() []viewerPlace {
	v4 := func(a, b, c byte) func(int) netip.Addr {
		return func(i int) netip.Addr { return netip.AddrFrom4([4]byte{a, b, c, byte(1 + i%250)}) }
	}
	return []viewerPlace{
		{"GB", "London", v4(81, 2, 69)},
		{"SE", "Linköping", v4(89, 160, 20)},
		{"US", "Seattle", v4(216, 160, 83)},
		{"AU", "Sydney", v4(1, 128, 0)},
		{"unknown", "", v4(67, 43, 156)}, // a country without coordinates: not placed
	}
}

// expected is what the simulated viewers of one playback id did, per place.
type expected struct {
	views, watchMS, rebuffers, fatal int64
	startups                         []float64
}

// TestAnalytics is the viewer-analytics path end to end: 200 simulated
// viewers in several GeoIP cities play a live stream and an uploaded VOD
// through an edge behind a trusted proxy (X-Forwarded-For), fetching
// playlists and a segment and sending the player script's beacons to the
// edge's POST /beacon; the edge ships its rollups over QUIC when it stops;
// `livestreams analytics` and GET /v1/analytics then give back what was
// sent: views, watch time (within 2 %), startup p50/p95 (within a
// histogram bucket), rebuffers, errors, per country and city.
func TestAnalytics(t *testing.T) {
	t.Parallel()
	gw := objstoretest.StartVersityGW(t)
	newBucket(t, gw, "media")
	store := []string{"--object-store", "s3://media?endpoint=" + gw.Endpoint + "&region=" + gw.Region + "&path_style=1",
		"--s3-access-key", gw.AccessKey, "--s3-secret-key", gw.SecretKey}
	lon := testCities()[0]
	db := geoiptest.TempDB(t, geoiptest.Sample())
	f := startFleet(t, fleetOptions{Probe: "200ms", Cities: []*city{lon}, ControlArgs: store,
		EdgeArgs: append([]string{"--max-jobs", "1", "--geoip-db", db, "--trusted-proxies", "127.0.0.1/32",
			"--analytics-interval", "1s"}, store...)})
	m := &mediaFleet{fleet: f, gw: gw, cities: []*city{lon}, t: t}

	live := f.publishTo(t, lon)
	asset := m.waitAsset(t, m.upload(t, mediatest.File(t, mediatest.Spec{Width: 320, Height: 240, Seconds: 6, Audio: true})).ID,
		3*time.Minute, ready)

	httpc := &http.Client{Timeout: 20 * time.Second}
	fetch := func(url string, ip netip.Addr, ua string) (string, string, error) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		req.Header.Set("X-Forwarded-For", ip.String())
		req.Header.Set("User-Agent", ua)
		resp, err := httpc.Do(req)
		if err != nil {
			return "", "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", "", fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, body)
		}
		return resp.Request.URL.String(), string(body), nil
	}
	get := func(url string, ip netip.Addr, ua string) (string, string) {
		final, body, err := fetch(url, ip, ua)
		if err != nil {
			t.Fatal(err)
		}
		return final, body
	}
	// Both play once the live ladder has its first segments.
	for _, pid := range []string{live.PlaybackID, asset.PlaybackID} {
		testutil.UntilEvery(t, 60*time.Second, 250*time.Millisecond, "a segment of "+pid, func() error {
			final, master, err := fetch(f.api+"/v1/play/"+pid+".m3u8", lon.ip, "probe")
			if err != nil {
				return err
			}
			media := resolve(final, firstURI(master))
			_, mp, err := fetch(media, lon.ip, "probe")
			if err != nil {
				return err
			}
			if firstURI(mp) == "" {
				return fmt.Errorf("no segment yet in %s", media)
			}
			return nil
		})
	}
	post := func(url string, ip netip.Addr, ua string, events []map[string]any) {
		body, _ := json.Marshal(events)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("X-Forwarded-For", ip.String())
		req.Header.Set("User-Agent", ua)
		req.Header.Set("Content-Type", "text/plain") // as sendBeacon sends it
		resp, err := httpc.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("POST %s: %d", url, resp.StatusCode)
		}
	}

	places := analyticsPlaces()
	want := map[string]map[string]*expected{} // playback id -> "country/city" -> figures
	uas := []string{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"}
	const viewers = 200
	for i := range viewers {
		pid := live.PlaybackID
		if i%2 == 1 {
			pid = asset.PlaybackID
		}
		pl := places[i%len(places)]
		ip, ua := pl.ip(i/len(places)), uas[i%3%2]
		// The player: the play URL redirects to the edge; it loads the
		// master and a media playlist and a segment, and beacons to the
		// edge it ended up on.
		final, master := get(f.api+"/v1/play/"+pid+".m3u8", ip, ua)
		media := resolve(final, firstURI(master))
		_, mp := get(media, ip, ua)
		get(resolve(media, firstURI(mp)), ip, ua)
		edge := final[:strings.Index(final, "/hls/")]

		w := want[pid]
		if w == nil {
			w = map[string]*expected{}
			want[pid] = w
		}
		e := w[pl.country+"/"+pl.city]
		if e == nil {
			e = &expected{}
			w[pl.country+"/"+pl.city] = e
		}
		view := fmt.Sprintf("view%03d", i)
		ev := func(typ string, kv ...any) map[string]any {
			m := map[string]any{"view_id": view, "playback_id": pid, "type": typ}
			for k := 0; k < len(kv); k += 2 {
				m[kv[k].(string)] = kv[k+1]
			}
			return m
		}
		startup := float64(300 + (i*37)%2500)
		watch1, watch2 := int64(10000), int64(1000+(i*131)%20000)
		first := []map[string]any{ev("view_start"), ev("first_frame", "ms", startup), ev("heartbeat", "ms", watch1)}
		e.views++
		e.startups = append(e.startups, startup)
		if i%5 == 0 {
			first = append(first, ev("rebuffer", "ms", 700))
			e.rebuffers++
		}
		if i%3 == 0 {
			first = append(first, ev("bitrate_switch", "bitrate", 1_400_000))
		}
		post(edge+"/beacon", ip, ua, first)
		last := []map[string]any{ev("heartbeat", "ms", watch2/2), ev("view_end", "ms", watch2-watch2/2)}
		if i%20 == 0 {
			last = append(last, ev("error", "fatal", true, "code", "networkError"))
			e.fatal++
		}
		post(edge+"/beacon", ip, ua, last)
		e.watchMS += watch1 + watch2
	}
	// A batch for a playback id this edge never served is dropped, and
	// garbage is refused.
	post(lon.hls+"/beacon", places[0].ip(0), uas[0], []map[string]any{{"view_id": "x", "playback_id": "not_served_here", "type": "view_start"}})
	if resp, err := http.Post(lon.hls+"/beacon", "text/plain", strings.NewReader("{garbage")); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("garbage beacon: %v %v", resp, err)
	}

	// The edge ships what it counted when it stops.
	if err := lon.p.StopWith(syscall.SIGTERM); err != nil {
		t.Logf("edge stopped: %v", err)
	}

	check := func(name string, q client.AnalyticsQuery, pid string) {
		var got client.Analytics
		testutil.UntilEvery(t, 30*time.Second, 250*time.Millisecond, name+" analytics", func() error {
			args := []string{"analytics", "--json", "--group-by", "city", "--from", "-1h"}
			if q.StreamID != "" {
				args = append(args, "--stream", q.StreamID)
			} else {
				args = append(args, "--asset", q.AssetID)
			}
			raw, err := cliRun(t, f.env, args...)
			if err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(raw), &got); err != nil {
				return fmt.Errorf("%v: %s", err, raw)
			}
			if got.Totals.Views != viewers/2 {
				return fmt.Errorf("%d views so far", got.Totals.Views)
			}
			return nil
		})
		var all []float64
		var views, watch int64
		for key, e := range want[pid] {
			country, city, _ := strings.Cut(key, "/")
			i := slices.IndexFunc(got.Buckets, func(b client.AnalyticsBucket) bool { return b.Country == country && b.City == city })
			if i < 0 {
				t.Errorf("%s: no bucket for %s in %+v", name, key, got.Buckets)
				continue
			}
			b := got.Buckets[i]
			all = append(all, e.startups...)
			views += e.views
			watch += e.watchMS
			if b.Views != e.views || b.Rebuffers != e.rebuffers || b.FatalErrors != e.fatal || b.UniqueViewers != e.views {
				t.Errorf("%s %s: views %d rebuffers %d fatal %d unique %d; sent %d, %d, %d", name, key, b.Views, b.Rebuffers, b.FatalErrors,
					b.UniqueViewers, e.views, e.rebuffers, e.fatal)
			}
			if math.Abs(b.WatchSeconds*1000-float64(e.watchMS)) > 0.02*float64(e.watchMS) {
				t.Errorf("%s %s: watch %.1f s, sent %.1f s", name, key, b.WatchSeconds, float64(e.watchMS)/1000)
			}
			checkPercentiles(t, name+" "+key, b.AnalyticsFigures, e.startups)
			if b.Segments < e.views {
				t.Errorf("%s %s: %d segments served to %d viewers", name, key, b.Segments, e.views)
			}
		}
		if got.Totals.Views != views || math.Abs(got.Totals.WatchSeconds*1000-float64(watch)) > 0.02*float64(watch) {
			t.Errorf("%s totals: %+v; sent %d views, %d ms", name, got.Totals, views, watch)
		}
		checkPercentiles(t, name+" total", got.Totals, all)
		t.Logf("%s: %d views, %d unique, %.0f s watched, startup p50 %.0f ms p95 %.0f ms, %d segments",
			name, got.Totals.Views, got.Totals.UniqueViewers, got.Totals.WatchSeconds, got.Totals.StartupP50MS, got.Totals.StartupP95MS, got.Totals.Segments)
	}
	check("live", client.AnalyticsQuery{StreamID: live.ID}, live.PlaybackID)
	check("vod", client.AnalyticsQuery{AssetID: asset.ID}, asset.PlaybackID)

	// By country through the typed client: the two unplaced places are one
	// "unknown".
	byCountry, err := f.client.Analytics(t.Context(), client.AnalyticsQuery{StreamID: live.ID, GroupBy: "country"})
	if err != nil {
		t.Fatal(err)
	}
	countries := map[string]int64{}
	for _, b := range byCountry.Buckets {
		countries[b.Country] = b.Views
	}
	if len(countries) != len(places) || countries["unknown"] != want[live.PlaybackID]["unknown/"].views {
		t.Errorf("by country: %v", countries)
	}
}

// checkPercentiles compares the startup percentiles with those of the
// values sent, within a histogram bucket (12 %).
func checkPercentiles(t *testing.T, name string, f client.AnalyticsFigures, sent []float64) {
	t.Helper()
	s := slices.Clone(sent)
	slices.Sort(s)
	pct := func(q float64) float64 { return s[min(len(s)-1, int(math.Ceil(q*float64(len(s))))-1)] }
	if f.Startups != int64(len(s)) {
		t.Errorf("%s: %d startups, sent %d", name, f.Startups, len(s))
	}
	for _, c := range []struct {
		q   float64
		got float64
	}{{0.5, f.StartupP50MS}, {0.95, f.StartupP95MS}} {
		if want := pct(c.q); math.Abs(c.got-want) > 0.12*want {
			t.Errorf("%s: startup p%.0f %.0f ms, sent %.0f ms", name, c.q*100, c.got, want)
		}
	}
}
