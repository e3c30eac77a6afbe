package cli

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/livestreams/livestreams/controlplane/client"
)

func nodesList(ctx context.Context, e *env, args []string) error {
	c := e.command("nodes", "", `
List the edge fleet as this control-plane node sees it: state (alive,
suspect, dead, left from gossip; alive or expired from the lease when the
edge takes no part in gossip), region, location, load, draining, and the
live streams each edge originates. Needs a cluster admin.`)
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.Node, error) { return cl.Nodes().List(ctx) }
	return listTable(ctx, c, list, "No edges have joined.", []string{"ID", "STATE", "REGION", "LOCATION", "CPU", "TRANSCODES", "VIEWERS", "STREAMS", "HLS"}, func(n client.Node) []string {
		state := n.State
		if n.Draining {
			state += " (draining)"
		}
		loc := "-"
		if n.HasLocation {
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
	return c.deleteAndSay(ctx, func(cl *client.Client) error { return cl.Nodes().Drain(ctx, c.pos[0]) },
		"Draining "+c.pos[0]+": no new publishes or viewers; running sessions go on.")
}

func nodeUndrain(ctx context.Context, e *env, args []string) error {
	c := e.command("node undrain", "ID", "Lift an edge's drain order.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, func(cl *client.Client) error { return cl.Nodes().Undrain(ctx, c.pos[0]) }, "Edge "+c.pos[0]+" takes new work again.")
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
	if *ip != "" {
		if _, err := netip.ParseAddr(*ip); err != nil {
			return c.usage("--ip %q is not an IP address", *ip)
		}
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	v, err := cl.Nodes().Route(c.keep(ctx), c.pos[0], *ip)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	where := "unknown location"
	if l := v.Client.Location; l != nil {
		where = strings.TrimLeft(fmt.Sprintf("%s, %s (%.2f,%.2f)", l.City, l.Country, l.Lat, l.Lon), ", ")
	}
	fmt.Fprintf(c.stdout, "Viewer %s: %s\nChosen:  %s  %s\n", orDash(v.Client.IP), where, orDash(v.EdgeID), v.URL)
	if v.Reason != "" {
		fmt.Fprintf(c.stdout, "Note:    %s\n", v.Reason)
	}
	fmt.Fprintln(c.stdout)
	rows := make([][]string, 0, len(v.Scores))
	for _, s := range v.Scores {
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
Print what to give an encoder to publish the stream on the edge nearest
you, or nearest --ip: for each protocol that edge offers (RTMP, RTMPS,
SRT, WHIP), the URL with the stream key, and OBS's "Server" and "Stream
Key" fields. --json prints the API's answer: edge_id, stream_key,
rtmp_url, rtmp_server, rtmps_url, rtmps_server, srt_url, srt_streamid,
srt_passphrase (when the stream has one), whip_url, each protocol's fields present only when the edge offers it.`)
	ip := c.fs.String("ip", "", "the creator's IP address (default: yours)")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	if *ip != "" {
		if _, err := netip.ParseAddr(*ip); err != nil {
			return c.usage("--ip %q is not an IP address", *ip)
		}
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	v, err := cl.Streams().Ingest(c.keep(ctx), c.pos[0], *ip)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	pairs := [][2]string{{"Edge", v.EdgeID}, {"Stream key", v.StreamKey}}
	for _, p := range [][2]string{{"RTMP URL", v.RTMPURL}, {"RTMP server (OBS)", v.RTMPServer}, {"RTMPS URL", v.RTMPSURL},
		{"RTMPS server (OBS)", v.RTMPSServer}, {"SRT URL", v.SRTURL}, {"SRT streamid", v.SRTStreamID},
		{"SRT passphrase", v.SRTPassphrase}, {"WHIP URL", v.WHIPURL}} {
		if p[1] != "" {
			pairs = append(pairs, p)
		}
	}
	return fields(c.stdout, pairs)
}
