// Package geoiptest writes small City-shaped MaxMind DB files for tests, so
// that code which looks clients up by IP can be tested without a real
// GeoLite2 database (which may not be redistributed in this repository).
//
// The records carry only what geoip.Resolver reads: location.latitude,
// location.longitude, location.accuracy_radius, city.names.en,
// country.iso_code and continent.code.
package geoiptest

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// DatabaseType is the database_type written into every generated file.
const DatabaseType = "Livestreams-Test-City"

// Entry maps one network to a place.
type Entry struct {
	Network    string // CIDR, "81.2.69.0/24" or "2a02:cf40::/32"
	Lat, Lon   float64
	City       string
	Country    string // ISO 3166-1 alpha-2
	Continent  string // two-letter continent code: EU, NA, AS, OC, SA, AF, AN
	AccuracyKm int
	// NoLocation leaves location out of the record, as GeoLite2 does for
	// networks it knows only the registered country of.
	NoLocation bool
}

// Addresses inside the networks of Sample, for tests to look up.
var (
	LondonIP    = netip.MustParseAddr("81.2.69.142")
	LinkopingIP = netip.MustParseAddr("89.160.20.112")
	SeattleIP   = netip.MustParseAddr("216.160.83.56")
	SydneyIP    = netip.MustParseAddr("1.128.0.1")
	LondonIP6   = netip.MustParseAddr("2a02:cf40::1")
	SeattleIP6  = netip.MustParseAddr("2001:480::1")
	NoLocIP     = netip.MustParseAddr("67.43.156.1")
)

// Sample returns a few well-known test networks (the ones MaxMind's own
// test databases use where there is one): London, Linköping, Seattle and
// Sydney over IPv4, London and Seattle over IPv6, and one network with a
// country but no coordinates.
func Sample() []Entry {
	return []Entry{
		{Network: "81.2.69.0/24", Lat: 51.5142, Lon: -0.0931, City: "London", Country: "GB", Continent: "EU", AccuracyKm: 10},
		{Network: "89.160.20.0/24", Lat: 58.4167, Lon: 15.6167, City: "Linköping", Country: "SE", Continent: "EU", AccuracyKm: 76},
		{Network: "216.160.83.0/24", Lat: 47.6062, Lon: -122.3321, City: "Seattle", Country: "US", Continent: "NA", AccuracyKm: 20},
		{Network: "1.128.0.0/16", Lat: -33.8688, Lon: 151.2093, City: "Sydney", Country: "AU", Continent: "OC", AccuracyKm: 50},
		{Network: "2a02:cf40::/32", Lat: 51.5142, Lon: -0.0931, City: "London", Country: "GB", Continent: "EU", AccuracyKm: 100},
		{Network: "2001:480::/32", Lat: 47.6062, Lon: -122.3321, City: "Seattle", Country: "US", Continent: "NA", AccuracyKm: 100},
		{Network: "67.43.156.0/24", Country: "BT", Continent: "AS", NoLocation: true},
	}
}

// Bytes builds an IPv6 (IPv4-including) database holding entries.
func Bytes(entries []Entry) ([]byte, error) {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            DatabaseType,
		Description:             map[string]string{"en": "Livestreams test City database"},
		Languages:               []string{"en"},
		IncludeReservedNetworks: true, // so tests may use documentation ranges
		RecordSize:              28,
	})
	if err != nil {
		return nil, fmt.Errorf("new mmdb tree: %w", err)
	}
	for _, e := range entries {
		p, err := netip.ParsePrefix(e.Network)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", e.Network, err)
		}
		p = p.Masked()
		ipnet := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
		if err := tree.Insert(ipnet, e.record()); err != nil {
			return nil, fmt.Errorf("insert %s: %w", e.Network, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("write mmdb: %w", err)
	}
	return buf.Bytes(), nil
}

func (e Entry) record() mmdbtype.Map {
	m := mmdbtype.Map{}
	if !e.NoLocation {
		m["location"] = mmdbtype.Map{
			"latitude":        mmdbtype.Float64(e.Lat),
			"longitude":       mmdbtype.Float64(e.Lon),
			"accuracy_radius": mmdbtype.Uint16(e.AccuracyKm),
		}
	}
	if e.City != "" {
		m["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(e.City)}}
	}
	if e.Country != "" {
		m["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(e.Country)}
	}
	if e.Continent != "" {
		m["continent"] = mmdbtype.Map{"code": mmdbtype.String(e.Continent)}
	}
	return m
}

// Write builds a database holding entries and puts it at path atomically
// (a temporary file in the same directory renamed over path), the way an
// operator should replace a live database.
func Write(path string, entries []Entry) error {
	b, err := Bytes(entries)
	if err != nil {
		return err
	}
	return WriteBytes(path, b)
}

// WriteBytes puts b at path atomically; tests use it to install a broken
// database.
func WriteBytes(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".geoiptest-*.mmdb")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// TempDB writes a database holding entries into t's temporary directory
// and returns its path; it fails t on error.
func TempDB(t testing.TB, entries []Entry) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "city.mmdb")
	if err := Write(path, entries); err != nil {
		t.Fatalf("geoiptest: %v", err)
	}
	return path
}
