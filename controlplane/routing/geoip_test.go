package routing_test

import (
	"net/netip"
	"testing"

	"github.com/livestreams/livestreams/controlplane/routing"
	"github.com/livestreams/livestreams/shared/geoip"
	"github.com/livestreams/livestreams/shared/geoip/geoiptest"
)

// TestChooseFromLookup routes real lookups from a generated database, the
// way the control plane does: Lookup, then Choose.
func TestChooseFromLookup(t *testing.T) {
	r, err := geoip.Open(geoiptest.TempDB(t, geoiptest.Sample()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	edges := []routing.Candidate{
		{ID: "lon-1", Region: "eu", Lat: 51.5, Lon: -0.1, HasLocation: true, Alive: true},
		{ID: "sto-1", Region: "eu", Lat: 59.33, Lon: 18.07, HasLocation: true, Alive: true},
		{ID: "sea-1", Region: "us-west", Lat: 47.6, Lon: -122.3, HasLocation: true, Alive: true},
		{ID: "syd-1", Region: "ap", Lat: -33.9, Lon: 151.2, HasLocation: true, Alive: true, Load: routing.Load{CPU: 0.3}},
	}
	tests := []struct {
		name       string
		ip         netip.Addr
		hint, want string
	}{
		{"London", geoiptest.LondonIP, "", "lon-1"},
		{"Linköping", geoiptest.LinkopingIP, "", "sto-1"},
		{"Seattle", geoiptest.SeattleIP, "", "sea-1"},
		{"Sydney", geoiptest.SydneyIP, "", "syd-1"},
		{"London over IPv6", geoiptest.LondonIP6, "", "lon-1"},
		{"Seattle over IPv6", geoiptest.SeattleIP6, "", "sea-1"},
		{"no coordinates, region hint", geoiptest.NoLocIP, "ap", "syd-1"},
		{"private address, no hint: least loaded, then ID", netip.MustParseAddr("10.1.2.3"), "", "lon-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, ok := r.Lookup(tt.ip)
			d, err := routing.Choose(routing.Client{Loc: loc, Known: ok, Region: tt.hint}, edges, routing.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Chosen.ID != tt.want {
				t.Errorf("%s (%+v, %v) routed to %s, want %s", tt.ip, loc, ok, d.Chosen.ID, tt.want)
			}
		})
	}
}
