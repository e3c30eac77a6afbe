package cli

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

type fleetNode struct {
	ID       string   `json:"id"`
	State    string   `json:"state"`
	Source   string   `json:"source"`
	Region   string   `json:"region"`
	Lat      float64  `json:"lat"`
	Lon      float64  `json:"lon"`
	HasLoc   bool     `json:"has_location"`
	HLSURL   string   `json:"hls_url"`
	RTMPURL  string   `json:"rtmp_url"`
	Draining bool     `json:"draining"`
	Streams  []string `json:"streams"`
	Load     struct {
		CPU        float64
		Transcodes int
		Viewers    int
		EgressBps  float64
	} `json:"load"`
}

func nodesList(ctx context.Context, e *env, args []string) error {
	c := e.command("nodes", "", `
List the edge fleet as this control-plane node sees it: state (alive,
suspect, dead, left from gossip; alive or expired from the lease when the
edge takes no part in gossip), region, location, load, draining, and the
live streams each edge originates. Needs a cluster admin.`)
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	return listTable(ctx, c, "/v1/nodes", "No edges have joined.", []string{"ID", "STATE", "REGION", "LOCATION", "CPU", "TRANSCODES", "VIEWERS", "STREAMS", "HLS"}, func(n fleetNode) []string {
		state := n.State
		if n.Draining {
			state += " (draining)"
		}
		loc := "-"
		if n.HasLoc {
			loc = fmt.Sprintf("%.2f,%.2f", n.Lat, n.Lon)
		}
		return []string{n.ID, state, orDash(n.Region), loc, fmt.Sprintf("%.0f%%", n.Load.CPU*100),
			strconv.Itoa(n.Load.Transcodes), strconv.Itoa(n.Load.Viewers), strconv.Itoa(len(n.Streams)), orDash(n.HLSURL)}
	})
}

func nodeDrain(ctx context.Context, e *env, args []string) error {
	c := e.command("node drain", "ID", `
Drain an edge: it takes no new publishes and no new viewers are routed to
it; running sessions go on until their publishers stop. 'livestreams node
undrain ID' lifts the order.`)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	if _, err := cl.post(ctx, pathf("/v1/nodes/%s/drain", c.pos[0]), nil, nil); err != nil {
		return err
	}
	if !c.g.json {
		fmt.Fprintf(c.stdout, "Draining %s: no new publishes or viewers; running sessions go on.\n", c.pos[0])
	}
	return nil
}

func nodeUndrain(ctx context.Context, e *env, args []string) error {
	c := e.command("node undrain", "ID", "Lift an edge's drain order.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, pathf("/v1/nodes/%s/drain", c.pos[0]), "Edge "+c.pos[0]+" takes new work again.")
}

func routeExplain(ctx context.Context, e *env, args []string) error {
	c := e.command("route", "PLAYBACK_ID", `
Show where a viewer would be sent for a live stream, and why: the chosen
edge, then every candidate with its distance, load penalty, score, or the
reason it was excluded. Needs a cluster admin.`)
	ip := c.fs.String("ip", "", "the viewer's IP address (default: yours, as the control plane sees it)")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	q := url.Values{"playback_id": {c.pos[0]}}
	if *ip != "" {
		if _, err := netip.ParseAddr(*ip); err != nil {
			return c.usage("--ip %q is not an IP address", *ip)
		}
		q.Set("ip", *ip)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	var v struct {
		EdgeID string `json:"edge_id"`
		URL    string `json:"url"`
		Client struct {
			IP       string `json:"ip"`
			Known    bool   `json:"known"`
			Location *struct {
				City, Country string
				Lat, Lon      float64
			} `json:"location"`
		} `json:"client"`
		Candidates []struct {
			Candidate struct {
				ID, Region string
				IsOrigin   bool
			}
			DistanceKm, LoadFraction, LoadPenalty, OriginBonus, RegionPenalty, Score float64
			Excluded                                                                 string
		} `json:"candidates"`
		Fallback string `json:"fallback"`
	}
	raw, err := cl.get(ctx, "/v1/route?"+q.Encode(), &v)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	where := "unknown location"
	if l := v.Client.Location; l != nil {
		where = strings.TrimLeft(fmt.Sprintf("%s, %s (%.2f,%.2f)", l.City, l.Country, l.Lat, l.Lon), ", ")
	}
	fmt.Fprintf(c.stdout, "Viewer %s: %s\nChosen:  %s  %s\n", orDash(v.Client.IP), where, orDash(v.EdgeID), v.URL)
	if v.Fallback != "" {
		fmt.Fprintf(c.stdout, "Note:    %s\n", v.Fallback)
	}
	fmt.Fprintln(c.stdout)
	rows := make([][]string, 0, len(v.Candidates))
	for _, s := range v.Candidates {
		dist := "-"
		if s.DistanceKm >= 0 {
			dist = fmt.Sprintf("%.0f", s.DistanceKm)
		}
		origin := ""
		if s.Candidate.IsOrigin {
			origin = "origin"
		}
		rows = append(rows, []string{s.Candidate.ID, orDash(s.Candidate.Region), origin, dist,
			fmt.Sprintf("%.0f%%", s.LoadFraction*100), fmt.Sprintf("%.0f", s.LoadPenalty), fmt.Sprintf("%.0f", s.Score), orDash(s.Excluded)})
	}
	return table(c.stdout, []string{"EDGE", "REGION", "", "DISTANCE KM", "LOAD", "LOAD PENALTY", "SCORE", "EXCLUDED"}, rows)
}

func streamIngest(ctx context.Context, e *env, args []string) error {
	c := e.command("stream ingest", "ID", `
Print where to publish the stream: the RTMP (and SRT/WHIP when offered)
URLs of the edge nearest you, or nearest --ip.`)
	ip := c.fs.String("ip", "", "the creator's IP address (default: yours)")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	path := pathf("/v1/streams/%s/ingest", c.pos[0])
	if *ip != "" {
		if _, err := netip.ParseAddr(*ip); err != nil {
			return c.usage("--ip %q is not an IP address", *ip)
		}
		path += "?ip=" + url.QueryEscape(*ip)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	var v struct {
		EdgeID  string `json:"edge_id"`
		RTMPURL string `json:"rtmp_url"`
		SRTURL  string `json:"srt_url"`
		WHIPURL string `json:"whip_url"`
	}
	raw, err := cl.get(ctx, path, &v)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	return fields(c.stdout, [][2]string{{"Edge", v.EdgeID}, {"RTMP", orDash(v.RTMPURL)}, {"SRT", orDash(v.SRTURL)}, {"WHIP", orDash(v.WHIPURL)}})
}
