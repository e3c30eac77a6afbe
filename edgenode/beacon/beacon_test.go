package beacon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/geoip"
	"github.com/livestreams/livestreams/shared/geoip/geoiptest"
)

const ua = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		n, skip int
		bad     bool
	}{
		{name: "empty", body: "", bad: true},
		{name: "object", body: `{"view_id":"v"}`, bad: true},
		{name: "garbage", body: `[{"view_id":`, bad: true},
		{name: "empty array", body: `[]`},
		{name: "one", body: `[{"view_id":"v1","playback_id":"p1","type":"view_start"}]`, n: 1},
		{name: "unknown type", body: `[{"view_id":"v1","playback_id":"p1","type":"boom"}]`, skip: 1},
		{name: "bad id", body: `[{"view_id":"v 1","playback_id":"p1","type":"view_start"}]`, skip: 1},
		{name: "negative ms", body: `[{"view_id":"v1","playback_id":"p1","type":"heartbeat","ms":-5}]`, skip: 1},
		{name: "huge ms", body: `[{"view_id":"v1","playback_id":"p1","type":"heartbeat","ms":1e12}]`, skip: 1},
		{name: "not objects", body: `[1,"x",null]`, skip: 2, n: 1}, // null decodes to a zero event: invalid
		{name: "too many", body: "[" + strings.Repeat(`{},`, MaxEvents) + "{}]", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, skip, err := Parse([]byte(tc.body))
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted %q", tc.body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "not objects" {
				tc.n, tc.skip = 0, 3
			}
			if len(ev) != tc.n || skip != tc.skip {
				t.Fatalf("got %d events, %d skipped; want %d, %d", len(ev), skip, tc.n, tc.skip)
			}
		})
	}
}

func TestDeviceClass(t *testing.T) {
	for ua, want := range map[string]string{
		"": DeviceOther,
		ua: DeviceDesktop,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148":      DeviceMobile,
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/120 Mobile Safari/537.36":  DeviceMobile,
		"Mozilla/5.0 (Linux; Android 13; SM-X200) Chrome/120 Safari/537.36":         DeviceTablet,
		"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)":                             DeviceTablet,
		"Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) SamsungBrowser/4.0":               DeviceTV,
		"Googlebot/2.1 (+http://www.google.com/bot.html)":                           DeviceBot,
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0": DeviceDesktop,
	} {
		if got := DeviceClass(ua); got != want {
			t.Errorf("DeviceClass(%q) = %s, want %s", ua, got, want)
		}
	}
}

func newTestAgg(t *testing.T) (*Aggregator, *clock) {
	t.Helper()
	res, err := geoip.Open(geoiptest.TempDB(t, geoiptest.Sample()), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	clk := &clock{t: time.Date(2026, 12, 4, 10, 0, 5, 0, time.UTC)}
	return New(Config{GeoIP: res, Now: clk.now}), clk
}

func post(h http.Handler, body []byte, remote, xff string) int {
	r := httptest.NewRequest(http.MethodPost, "/beacon", bytes.NewReader(body))
	r.RemoteAddr = remote
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	r.Header.Set("User-Agent", ua)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

func TestHandlerAnswers(t *testing.T) {
	agg, _ := newTestAgg(t)
	h := NewHandler(agg, nil, NewLimiter(1, 3, 10))
	ok := []byte(`[{"view_id":"v1","playback_id":"p1","type":"view_start"}]`)
	if c := post(h, ok, "10.0.0.1:1", ""); c != http.StatusNoContent {
		t.Errorf("valid batch: %d", c)
	}
	if c := post(h, []byte("not json"), "10.0.0.2:1", ""); c != http.StatusBadRequest {
		t.Errorf("garbage: %d", c)
	}
	if c := post(h, bytes.Repeat([]byte("x"), MaxBody+1), "10.0.0.3:1", ""); c != http.StatusRequestEntityTooLarge {
		t.Errorf("huge: %d", c)
	}
	codes := map[int]int{}
	for range 10 {
		codes[post(h, ok, "10.0.0.4:1", "")]++
	}
	if codes[http.StatusNoContent] != 3 || codes[http.StatusTooManyRequests] != 7 {
		t.Errorf("a flood of 10 with a burst of 3: %v", codes)
	}
	r := httptest.NewRequest(http.MethodGet, "/beacon", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", w.Code)
	}
	if s := agg.Stats(); s.Unknown != 4 { // the 4 accepted batches
		t.Errorf("the event of a playback id never served was not dropped: %+v", s)
	}
}

func TestAggregate(t *testing.T) {
	agg, clk := newTestAgg(t)
	proxy := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	h := NewHandler(agg, proxy, nil)
	london := Viewer{IP: geoiptest.LondonIP, UserAgent: ua}
	agg.Served("pidA", "index.m3u8", 300, london)
	agg.Served("pidA", "720p/seg_1.ts", 1000, london)
	agg.Served("pidB", "index.m3u8", 300, london)
	batch := func(view, pid string, evs ...string) []byte {
		var out []map[string]any
		for _, e := range evs {
			var m map[string]any
			json.Unmarshal([]byte(e), &m)
			m["view_id"], m["playback_id"] = view, pid
			out = append(out, m)
		}
		b, _ := json.Marshal(out)
		return b
	}
	send := func(ip netip.Addr, body []byte) {
		if c := post(h, body, "127.0.0.1:5000", ip.String()); c != http.StatusNoContent {
			t.Fatalf("post: %d", c)
		}
	}
	send(geoiptest.LondonIP, batch("v1", "pidA", `{"type":"view_start"}`, `{"type":"first_frame","ms":800}`,
		`{"type":"heartbeat","ms":10000}`, `{"type":"rebuffer","ms":500}`, `{"type":"bitrate_switch","bitrate":800000}`))
	send(geoiptest.SeattleIP, batch("v2", "pidA", `{"type":"view_start"}`, `{"type":"first_frame","ms":1200}`,
		`{"type":"error","code":"net","fatal":true}`))
	send(geoiptest.NoLocIP, batch("v3", "pidB", `{"type":"view_start"}`, `{"type":"heartbeat","ms":2500}`))
	send(geoiptest.LondonIP, batch("v4", "pidX", `{"type":"view_start"}`)) // never served here
	clk.add(time.Minute)
	send(geoiptest.LondonIP, batch("v1", "pidA", `{"type":"view_end","ms":4000}`))

	owners := map[string]Owner{"pidA": {OrgID: "org_1", StreamID: "str_1"}, "pidB": {OrgID: "org_2", AssetID: "ast_1"}}
	resolve := func(pid string) (Owner, bool) { o, ok := owners[pid]; return o, ok }
	first := agg.Take(protocol.MinuteOf(clk.now()), resolve)
	byPlace := map[string]protocol.Rollup{}
	for _, r := range first {
		byPlace[r.StreamID+r.AssetID+"/"+r.Country+"/"+r.City] = r
	}
	if len(first) != 3 {
		t.Fatalf("first minute: %d rollups: %+v", len(first), first)
	}
	lon := byPlace["str_1/GB/London"]
	if lon.Views != 1 || lon.WatchMS != 10000 || lon.Rebuffers != 1 || lon.RebufferMS != 500 || lon.BitrateSwitches != 1 ||
		lon.Segments != 1 || lon.SegmentBytes != 1000 || lon.Concurrent != 1 || lon.Viewers.Count() != 1 || lon.Device != DeviceDesktop ||
		lon.OrgID != "org_1" || lon.Startup.Count() != 1 {
		t.Errorf("London: %+v", lon)
	}
	sea := byPlace["str_1/US/Seattle"]
	if sea.Views != 1 || sea.FatalErrors != 1 || sea.Errors != 1 {
		t.Errorf("Seattle: %+v", sea)
	}
	unk := byPlace["ast_1/unknown/"]
	if unk.OrgID != "org_2" || unk.WatchMS != 2500 {
		t.Errorf("unknown place: %+v", unk)
	}
	rest := agg.Take(0, resolve)
	if len(rest) != 1 || rest[0].WatchMS != 4000 || rest[0].Views != 0 {
		t.Errorf("second minute: %+v", rest)
	}
	if again := agg.Take(0, resolve); len(again) != 0 {
		t.Errorf("taken twice: %+v", again)
	}
}

func TestCellBound(t *testing.T) {
	agg := New(Config{MaxCells: 5})
	for i := range 20 {
		agg.Served(fmt.Sprintf("p%d", i), "seg.ts", 1, Viewer{})
	}
	if s := agg.Stats(); s.Dropped != 15 {
		t.Errorf("%+v", s)
	}
}

// FuzzBeacon feeds the handler arbitrary bodies: it must answer 204, 400
// or 413 and never panic.
func FuzzBeacon(f *testing.F) {
	f.Add([]byte(`[{"view_id":"v1","playback_id":"pid","type":"view_start"},{"view_id":"v1","playback_id":"pid","type":"first_frame","ms":700}]`))
	f.Add([]byte(`[{"view_id":"v1","playback_id":"pid","type":"heartbeat","ms":1e308}]`))
	f.Add([]byte(`[[[[[[[[[[`))
	f.Add([]byte(`[{"view_id":"v1","playback_id":"pid","type":"error","fatal":true,"code":"x"}, 7, "s", {}]`))
	f.Add([]byte{0xff, 0xfe, '[', ']'})
	agg := New(Config{})
	agg.Served("pid", "seg.ts", 1, Viewer{})
	h := NewHandler(agg, nil, NewLimiter(1e9, 1e9, 10))
	f.Fuzz(func(t *testing.T, body []byte) {
		switch c := post(h, body, "10.1.1.1:1", ""); c {
		case http.StatusNoContent, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("answered %d", c)
		}
	})
}
