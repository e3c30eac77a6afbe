package geoip

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/geoip/geoiptest"
	"github.com/livestreams/livestreams/shared/testutil"
)

func newLogger() (*slog.Logger, *testutil.SyncBuffer) {
	b := &testutil.SyncBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// watch runs r.Watch until the test ends.
func watch(t *testing.T, r *Resolver) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.Watch(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func sampleWithReserved() []geoiptest.Entry {
	// Reserved networks are in the database so that the tests show Lookup
	// refuses them by kind, not merely because they are missing.
	return append(geoiptest.Sample(),
		geoiptest.Entry{Network: "10.0.0.0/8", Lat: 1, Lon: 1, City: "Private", Country: "ZZ"},
		geoiptest.Entry{Network: "127.0.0.0/8", Lat: 1, Lon: 1, City: "Loopback", Country: "ZZ"},
		geoiptest.Entry{Network: "fc00::/7", Lat: 1, Lon: 1, City: "ULA", Country: "ZZ"},
		geoiptest.Entry{Network: "fe80::/10", Lat: 1, Lon: 1, City: "LinkLocal", Country: "ZZ"},
	)
}

func TestLookup(t *testing.T) {
	r, err := Open(geoiptest.TempDB(t, sampleWithReserved()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	tests := []struct {
		ip      string
		want    Location
		wantOK  bool
		comment string
	}{
		{ip: "81.2.69.142", wantOK: true, want: Location{Lat: 51.5142, Lon: -0.0931, City: "London", Country: "GB", Continent: "EU", AccuracyKm: 10}},
		{ip: "89.160.20.112", wantOK: true, want: Location{Lat: 58.4167, Lon: 15.6167, City: "Linköping", Country: "SE", Continent: "EU", AccuracyKm: 76}},
		{ip: "216.160.83.56", wantOK: true, want: Location{Lat: 47.6062, Lon: -122.3321, City: "Seattle", Country: "US", Continent: "NA", AccuracyKm: 20}},
		{ip: "1.128.200.3", wantOK: true, want: Location{Lat: -33.8688, Lon: 151.2093, City: "Sydney", Country: "AU", Continent: "OC", AccuracyKm: 50}},
		{ip: "2a02:cf40::1234", wantOK: true, want: Location{Lat: 51.5142, Lon: -0.0931, City: "London", Country: "GB", Continent: "EU", AccuracyKm: 100}},
		{ip: "2001:480:1::1", wantOK: true, want: Location{Lat: 47.6062, Lon: -122.3321, City: "Seattle", Country: "US", Continent: "NA", AccuracyKm: 100}},
		{ip: "::ffff:81.2.69.142", wantOK: true, want: Location{Lat: 51.5142, Lon: -0.0931, City: "London", Country: "GB", Continent: "EU", AccuracyKm: 10}, comment: "IPv4-mapped"},
		{ip: "67.43.156.1", comment: "record without coordinates"},
		{ip: "8.8.8.8", comment: "not in the database"},
		{ip: "2001:4860::1", comment: "IPv6 not in the database"},
		{ip: "10.1.2.3", comment: "private"},
		{ip: "127.0.0.1", comment: "loopback"},
		{ip: "::1", comment: "IPv6 loopback"},
		{ip: "fd00::1", comment: "ULA"},
		{ip: "fe80::1%eth0", comment: "link-local with zone"},
		{ip: "0.0.0.0", comment: "unspecified"},
		{ip: "::", comment: "IPv6 unspecified"},
		{ip: "224.0.0.1", comment: "multicast"},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			got, ok := r.Lookup(netip.MustParseAddr(tt.ip))
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("Lookup(%s) [%s] = %+v, %v; want %+v, %v", tt.ip, tt.comment, got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if _, ok := r.Lookup(netip.Addr{}); ok {
		t.Error("Lookup(zero Addr) found something")
	}
}

func TestLookupIPv4OnlyDatabaseIgnoresIPv6(t *testing.T) {
	path := geoiptest.TempDB(t, geoiptest.Sample())
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup(netip.MustParseAddr("2600::1")); ok {
		t.Error("found an address outside every network")
	}
}

func TestNoDatabase(t *testing.T) {
	t.Run("nil resolver", func(t *testing.T) {
		var r *Resolver
		if _, ok := r.Lookup(geoiptest.LondonIP); ok {
			t.Error("nil resolver found an address")
		}
		if err := r.Reload(); err != nil {
			t.Error(err)
		}
		r.Watch(context.Background()) // returns at once
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	for name, mk := range map[string]func(*slog.Logger) *Resolver{
		"Nop": Nop,
		"Open empty path": func(l *slog.Logger) *Resolver {
			r, err := Open("", l)
			if err != nil {
				t.Fatal(err)
			}
			return r
		},
	} {
		t.Run(name, func(t *testing.T) {
			logger, logs := newLogger()
			r := mk(logger)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range 200 {
						if _, ok := r.Lookup(geoiptest.LondonIP); ok {
							t.Error("resolver without a database found an address")
							return
						}
					}
				})
			}
			wg.Wait()
			r.Watch(context.Background()) // returns at once
			if err := r.Reload(); err != nil {
				t.Error(err)
			}
			if n := strings.Count(logs.String(), NoDatabaseMessage); n != 1 {
				t.Errorf("%q logged %d times, want once", NoDatabaseMessage, n)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	good, err := geoiptest.Bytes(geoiptest.Sample())
	if err != nil {
		t.Fatal(err)
	}
	// The metadata sits at the end, so this opens; the tree is cut off.
	chopped := filepath.Join(dir, "chopped.mmdb")
	meta := bytes.LastIndex(good, []byte("\xab\xcd\xefMaxMind.com"))
	if err := os.WriteFile(chopped, append(good[:40:40], good[meta:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.mmdb"), garbage, chopped, dir} {
		if r, err := Open(path, nil); err == nil {
			t.Errorf("Open(%s) = %v, want an error", filepath.Base(path), r)
		} else if !strings.Contains(err.Error(), "open geoip database") {
			t.Errorf("Open(%s) error %q does not say what failed", filepath.Base(path), err)
		}
	}
}

func TestHotReload(t *testing.T) {
	logger, logs := newLogger()
	path := geoiptest.TempDB(t, geoiptest.Sample())
	r, err := Open(path, logger, PollEvery(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	watch(t, r)

	if loc, _ := r.Lookup(geoiptest.LondonIP); loc.City != "London" {
		t.Fatalf("before reload: %+v", loc)
	}
	moved := []geoiptest.Entry{{Network: "81.2.69.0/24", Lat: 48.8566, Lon: 2.3522, City: "Paris", Country: "FR", Continent: "EU"}}
	if err := geoiptest.Write(path, moved); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "lookup sees the new database", func() bool {
		loc, _ := r.Lookup(geoiptest.LondonIP)
		return loc.City == "Paris"
	})
	if _, ok := r.Lookup(geoiptest.SeattleIP); ok {
		t.Error("Seattle still found after the database without it was loaded")
	}
	if n := strings.Count(logs.String(), "geoip database loaded"); n != 2 {
		t.Errorf("logged %d loads, want 2", n)
	}
}

func TestBrokenReplacementKeepsOldDatabase(t *testing.T) {
	logger, logs := newLogger()
	path := geoiptest.TempDB(t, geoiptest.Sample())
	r, err := Open(path, logger, PollEvery(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	watch(t, r)
	const warning = "geoip database not reloaded"

	waitPolls := func(n int64) {
		start := r.polls.Load()
		testutil.Eventually(t, 5*time.Second, "watch polls", func() bool { return r.polls.Load() >= start+n })
	}
	stillLondon := func() {
		t.Helper()
		if loc, ok := r.Lookup(geoiptest.LondonIP); !ok || loc.City != "London" {
			t.Fatalf("old database not kept: %+v, %v", loc, ok)
		}
	}

	if err := geoiptest.WriteBytes(path, []byte("truncated download")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "broken file logged", func() bool { return strings.Count(logs.String(), warning) >= 1 })
	waitPolls(10)
	stillLondon()
	if n := strings.Count(logs.String(), warning); n != 1 {
		t.Errorf("broken file logged %d times, want once", n)
	}
	if err := r.Reload(); err == nil {
		t.Error("Reload of the broken file returned no error")
	}

	// A missing file is a different failure: logged once too.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "missing file logged", func() bool { return strings.Count(logs.String(), warning) >= 2 })
	waitPolls(10)
	stillLondon()
	if n := strings.Count(logs.String(), warning); n != 2 {
		t.Errorf("after removal logged %d warnings, want 2", n)
	}

	// A good file is picked up again.
	if err := geoiptest.Write(path, []geoiptest.Entry{{Network: "81.2.69.0/24", Lat: 1, Lon: 2, City: "Elsewhere"}}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "good file loaded", func() bool {
		loc, _ := r.Lookup(geoiptest.LondonIP)
		return loc.City == "Elsewhere"
	})
}

func TestCloseStopsLookupsAndReloads(t *testing.T) {
	path := geoiptest.TempDB(t, geoiptest.Sample())
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup(geoiptest.LondonIP); ok {
		t.Error("closed resolver found an address")
	}
	if err := geoiptest.Write(path, geoiptest.Sample()); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup(geoiptest.LondonIP); ok {
		t.Error("Reload after Close opened the database again")
	}
}

// TestLookupDuringReload runs lookups while the database is swapped under
// them; with -race it shows reads need no lock.
func TestLookupDuringReload(t *testing.T) {
	path := geoiptest.TempDB(t, geoiptest.Sample())
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				loc, ok := r.Lookup(geoiptest.LondonIP)
				if !ok || (loc.City != "London" && loc.City != "Londres") {
					t.Errorf("lookup during reload = %+v, %v", loc, ok)
					return
				}
			}
		})
	}
	for i := range 20 {
		entries := geoiptest.Sample()
		if i%2 == 0 {
			entries[0].City = "Londres"
		}
		if err := geoiptest.Write(path, entries); err != nil {
			t.Fatal(err)
		}
		if err := r.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
}

func BenchmarkLookup(b *testing.B) {
	r, err := Open(geoiptest.TempDB(b, geoiptest.Sample()), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := r.Lookup(geoiptest.LondonIP); !ok {
			b.Fatal("not found")
		}
	}
}
