// Package geoip tells where a client is from its IP address, so that
// viewers and creators can be sent to the nearest edge. It reads a MaxMind
// GeoLite2 or GeoIP2 City database (or any City-shaped MMDB file), serves
// lookups without locks, reloads the file when it changes, and degrades to
// "unknown" when no database is configured.
//
// It deliberately does not download or update databases: geoipupdate or an
// operator's cron job does that by replacing the file atomically, and Watch
// picks the new one up. It keeps no per-client state and does not decide
// anything; controlplane/routing does. ClientIP, which chooses the address to look
// up for a request that came through proxies, lives here because that
// address is what Lookup is for.
package geoip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// DefaultPollInterval is how often Watch looks at the database file unless
// PollEvery says otherwise.
const DefaultPollInterval = 5 * time.Second

// NoDatabaseMessage is logged once by a resolver without a database.
const NoDatabaseMessage = "no GeoIP database configured; routing falls back to region and load"

// Location is where the database places an address.
type Location struct {
	Lat, Lon   float64
	City       string // English name, "" when the database has none
	Country    string // ISO 3166-1 alpha-2, e.g. "GB"
	Continent  string // two-letter code, e.g. "EU"
	AccuracyKm int    // radius the address is likely within; 0 when unknown
}

// Resolver looks addresses up in a City database. Lookup is safe for
// concurrent use and takes no lock: the open database sits behind an
// atomic pointer that Reload swaps. A nil *Resolver, and one from Nop, know
// nothing: every Lookup reports not found.
type Resolver struct {
	path   string
	logger *slog.Logger
	every  time.Duration

	db atomic.Pointer[database]

	mu         sync.Mutex // serializes Reload and Close
	closed     bool
	failedFile os.FileInfo // last file that failed to load, so it is read and logged once
	failedErr  error       // why failedFile failed
	failedStat string      // last stat error, so it is logged once

	polls atomic.Int64 // Watch ticks done, for tests to wait on
}

// database is one loaded file. The whole file is read into memory rather
// than memory-mapped: a swapped-out reader may still be in use by a
// concurrent Lookup, and an unmapped one would fault, whereas a slice is
// simply collected once the last Lookup is done with it. It also makes the
// reader immune to the file being rewritten in place.
type database struct {
	reader *maxminddb.Reader
	file   os.FileInfo
}

// Option adjusts a Resolver made by Open.
type Option func(*Resolver)

// PollEvery sets how often Watch looks at the database file.
func PollEvery(d time.Duration) Option {
	return func(r *Resolver) {
		if d > 0 {
			r.every = d
		}
	}
}

// Open loads the City database at path. An empty path is not an error: it
// returns Nop(logger), so that running without GeoIP needs no special case
// in the caller. A nil logger discards.
func Open(path string, logger *slog.Logger, opts ...Option) (*Resolver, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return Nop(logger), nil
	}
	r := &Resolver{path: path, logger: logger, every: DefaultPollInterval}
	for _, o := range opts {
		o(r)
	}
	db, err := load(path)
	if err != nil {
		return nil, fmt.Errorf("open geoip database: %w", err)
	}
	r.db.Store(db)
	r.logLoaded(db)
	return r, nil
}

// Nop returns a resolver without a database. It logs NoDatabaseMessage
// once, now, rather than on every lookup.
func Nop(logger *slog.Logger) *Resolver {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger.Info(NoDatabaseMessage)
	return &Resolver{logger: logger}
}

// Lookup returns where ip is. It reports false for addresses that are not
// global unicast or are private (loopback, link-local, RFC 1918, ULA,
// unspecified, multicast), for addresses the database does not hold, and
// for records without coordinates (such as networks GeoLite2 knows only
// the registered country of), since a location without coordinates cannot
// be routed by. IPv4-mapped IPv6 addresses are looked up as IPv4.
func (r *Resolver) Lookup(ip netip.Addr) (Location, bool) {
	if r == nil {
		return Location{}, false
	}
	ip = ip.Unmap().WithZone("")
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return Location{}, false
	}
	db := r.db.Load()
	if db == nil {
		return Location{}, false
	}
	res := db.reader.Lookup(ip)
	if !res.Found() {
		return Location{}, false
	}
	var rec cityRecord
	rec.Location.Latitude = math.NaN() // NaN survives only if the record has no coordinate
	rec.Location.Longitude = math.NaN()
	if err := res.Decode(&rec); err != nil {
		return Location{}, false
	}
	lat, lon := rec.Location.Latitude, rec.Location.Longitude
	if !(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180) { // also false for NaN
		return Location{}, false
	}
	country := rec.Country.ISOCode
	if country == "" {
		country = rec.RegisteredCountry.ISOCode
	}
	return Location{
		Lat:        lat,
		Lon:        lon,
		City:       rec.City.Names.En,
		Country:    country,
		Continent:  rec.Continent.Code,
		AccuracyKm: int(rec.Location.AccuracyRadius),
	}, true
}

// cityRecord is the part of a GeoIP2 City record Lookup reads. Names are
// decoded into a struct rather than a map so a lookup allocates nothing
// for the languages it does not use.
type cityRecord struct {
	City struct {
		Names struct {
			En string `maxminddb:"en"`
		} `maxminddb:"names"`
	} `maxminddb:"city"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	Location struct {
		Latitude       float64 `maxminddb:"latitude"`
		Longitude      float64 `maxminddb:"longitude"`
		AccuracyRadius uint16  `maxminddb:"accuracy_radius"`
	} `maxminddb:"location"`
}

// Reload loads the database file again if it is not the file already
// loaded (a different inode, size or modification time). If the new file
// cannot be read or is not a valid database, the database already loaded
// stays in use and the error is returned; the same broken file is not read
// again until it changes. Reload on a resolver without a path, or after
// Close, does nothing.
func (r *Resolver) Reload() error {
	_, _, err := r.reload()
	return err
}

// reload reports whether a new database was swapped in, and on failure
// whether it is the same failure as last time.
func (r *Resolver) reload() (swapped, repeat bool, err error) {
	if r == nil || r.path == "" {
		return false, false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false, false, nil
	}
	fi, err := os.Stat(r.path)
	if err != nil {
		err = fmt.Errorf("reload geoip database: %w", err)
		repeat = err.Error() == r.failedStat
		r.failedStat, r.failedFile, r.failedErr = err.Error(), nil, nil
		return false, repeat, err
	}
	r.failedStat = ""
	if cur := r.db.Load(); cur != nil && sameFile(cur.file, fi) {
		r.failedFile, r.failedErr = nil, nil
		return false, false, nil
	}
	if r.failedFile != nil && sameFile(r.failedFile, fi) {
		return false, true, r.failedErr
	}
	db, err := load(r.path)
	if err != nil {
		err = fmt.Errorf("reload geoip database: %w", err)
		r.failedFile, r.failedErr = fi, err
		return false, false, err
	}
	r.failedFile, r.failedErr = nil, nil
	r.db.Store(db) // the old reader is left to the collector: see database
	return true, false, nil
}

// Watch polls the database file every PollEvery interval and reloads it
// when it changes, until ctx is done. A file that fails to load is logged
// once (until a different file or a different error turns up) and the old
// database keeps serving. Watch returns at once on a resolver without a
// path. The caller runs it in a goroutine it waits for.
func (r *Resolver) Watch(ctx context.Context) {
	if r == nil || r.path == "" {
		return
	}
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		swapped, repeat, err := r.reload()
		switch {
		case swapped:
			r.logLoaded(r.db.Load())
		case err != nil && !repeat:
			r.logger.Warn("geoip database not reloaded; keeping the one loaded",
				"path", r.path, "error", err)
		}
		r.polls.Add(1)
	}
}

// Close drops the database; later lookups report not found and Watch stops
// reloading. It is safe to call concurrently with Lookup.
func (r *Resolver) Close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.db.Store(nil)
	return nil
}

func (r *Resolver) logLoaded(db *database) {
	if db == nil {
		return
	}
	md := db.reader.Metadata
	r.logger.Info("geoip database loaded",
		"path", r.path,
		"database_type", md.DatabaseType,
		"build_time", md.BuildTime().UTC().Format(time.RFC3339),
		"node_count", md.NodeCount)
}

// load reads and opens the database at path. The FileInfo comes from the
// open file, so it describes exactly the bytes read even if the path is
// replaced meanwhile.
func load(path string) (*database, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	reader, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := probe(reader); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &database{reader: reader, file: fi}, nil
}

// probe catches files that open (their metadata is intact) but whose tree
// or data is not, by decoding a few records the way Lookup will. A full
// Verify would catch more but reads every record, seconds on a City
// database, and is stricter than readers need.
func probe(reader *maxminddb.Reader) error {
	if reader.Metadata.NodeCount == 0 {
		return errors.New("database has no search tree")
	}
	probes := []netip.Addr{
		netip.MustParseAddr("1.1.1.1"),
		netip.MustParseAddr("81.2.69.142"),
		netip.MustParseAddr("8.8.8.8"),
	}
	if reader.Metadata.IPVersion == 6 {
		probes = append(probes, netip.MustParseAddr("2001:4860:4860::8888"))
	}
	for _, ip := range probes {
		res := reader.Lookup(ip)
		if err := res.Err(); err != nil {
			return fmt.Errorf("look up %s: %w", ip, err)
		}
		if !res.Found() {
			continue
		}
		var rec cityRecord
		if err := res.Decode(&rec); err != nil {
			return fmt.Errorf("decode record for %s: %w", ip, err)
		}
	}
	return nil
}

func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) &&
		a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
