package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
)

// trackText renders a track as "video h264 1920x1080@30" or "audio aac 2ch 48000 Hz".
func trackText(t client.Track) string {
	parts := []string{t.Type}
	if t.Codec != "" {
		parts = append(parts, t.Codec)
	}
	if t.Width > 0 {
		v := fmt.Sprintf("%dx%d", t.Width, t.Height)
		if t.FPS > 0 {
			v += fmt.Sprintf("@%g", t.FPS)
		}
		parts = append(parts, v)
	}
	if t.Channels > 0 {
		parts = append(parts, fmt.Sprintf("%dch", t.Channels))
	}
	if t.SampleRate > 0 {
		parts = append(parts, fmt.Sprintf("%d Hz", t.SampleRate))
	}
	return strings.Join(parts, " ")
}

var (
	assetStatuses = []string{"preparing", "ready", "errored"}
	assetTypes    = []string{"recording", "upload", "clip"}
)

// seconds renders a duration in seconds as "42.5s" or "1h2m3s".
func seconds(s float64) string {
	if s <= 0 {
		return "-"
	}
	return time.Duration(s * float64(time.Second)).Round(100 * time.Millisecond).String()
}

// bytesText renders a byte count as "812 KiB" or "12.3 GiB".
func bytesText(n int64) string {
	if n <= 0 {
		return "-"
	}
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	v, units := float64(n)/1024, []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0") + " " + units[i]
}

func assetList(ctx context.Context, e *env, args []string) error {
	c := e.command("asset list", "", `
List the org's on-demand assets, newest first: recordings of live
sessions, uploads and clips, with their status.`)
	status := c.fs.String("status", "", "only assets with this status: "+strings.Join(assetStatuses, ", "))
	typ := c.fs.String("type", "", "only assets of this type: "+strings.Join(assetTypes, ", "))
	stream := c.fs.String("stream", "", "only the assets of this stream ID")
	paging := c.pageFlags()
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *status != "" && !slices.Contains(assetStatuses, *status) {
		return c.usage("--status must be one of %s, not %q", strings.Join(assetStatuses, ", "), *status)
	}
	if *typ != "" && !slices.Contains(assetTypes, *typ) {
		return c.usage("--type must be one of %s, not %q", strings.Join(assetTypes, ", "), *typ)
	}
	f := client.AssetFilter{Status: *status, Type: *typ, StreamID: *stream}
	if err := paging(&f.ListOptions); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.Asset, error) {
		p, err := cl.Assets().List(ctx, f)
		return p.Items, err
	}
	return listTable(ctx, c, list, "No assets.", []string{"ID", "TYPE", "STATUS", "DURATION", "SIZE", "PLAYBACK", "STREAM", "CREATED"}, func(a client.Asset) []string {
		status := a.Status
		if a.Status == "preparing" {
			status += fmt.Sprintf(" (%.0f%%)", a.Progress)
		}
		return []string{a.ID, a.Type, status, seconds(a.Duration), bytesText(a.Size), a.PlaybackPolicy, orDash(a.StreamID), c.ago(a.CreatedAt)}
	})
}

func assetShow(ctx context.Context, e *env, args []string) error {
	c := e.command("asset show", "ID", "Show one asset: its status, media, job and playback URLs.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	a, err := cl.Assets().Get(c.keep(ctx), c.pos[0])
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	return c.printAsset(&a)
}

func (c *cmd) printAsset(a *client.Asset) error {
	pairs := [][2]string{
		{"ID", a.ID},
		{"Type", a.Type},
		{"Status", a.Status},
	}
	if a.Error != "" {
		pairs = append(pairs, [2]string{"Error", a.Error})
	}
	pairs = append(pairs,
		[2]string{"Org", a.OrgID},
		[2]string{"Stream", orDash(a.StreamID)},
		[2]string{"Session", orDash(a.SessionID)},
		[2]string{"Source asset", orDash(a.SourceAssetID)},
		[2]string{"Playback ID", a.PlaybackID},
		[2]string{"Playback policy", a.PlaybackPolicy},
		[2]string{"Duration", seconds(a.Duration)},
		[2]string{"Size", bytesText(a.Size)},
	)
	if len(a.Tracks) > 0 {
		var tracks []string
		for _, t := range a.Tracks {
			tracks = append(tracks, trackText(t))
		}
		pairs = append(pairs, [2]string{"Tracks", strings.Join(tracks, "; ")})
	}
	if len(a.Renditions) > 0 {
		var names []string
		for _, r := range a.Renditions {
			names = append(names, fmt.Sprintf("%s (%dx%d, %d kb/s)", r.Name, r.Width, r.Height, r.Bandwidth/1000))
		}
		pairs = append(pairs, [2]string{"Renditions", strings.Join(names, ", ")})
	}
	if j := a.Job; j != nil {
		pairs = append(pairs, [2]string{"Job", fmt.Sprintf("%s (%s, %s, %s)", j.ID, j.Type, j.State, progressText(j.Progress))})
	} else {
		pairs = append(pairs, [2]string{"Job", "-"})
	}
	for _, t := range a.Captions {
		line := fmt.Sprintf("%s (%s, job %s, %.0f%%)", t.Language, t.Status, t.JobID, t.Progress)
		if t.Error != "" {
			line += ": " + t.Error
		}
		if t.VTTURL != "" {
			line += " " + t.VTTURL
		}
		pairs = append(pairs, [2]string{"Captions", line})
	}
	pairs = append(pairs,
		[2]string{"Playback URL", orDash(a.PlaybackURL)},
		[2]string{"Thumbnail URL", orDash(a.ThumbnailURL)},
		[2]string{"Storyboard URL", orDash(a.StoryboardURL)},
		[2]string{"Created", c.when(a.CreatedAt)},
		[2]string{"Updated", c.when(a.UpdatedAt)},
		[2]string{"Ready", c.when(at(a.ReadyAt))},
	)
	return fields(c.stdout, pairs)
}

func assetDelete(ctx context.Context, e *env, args []string) error {
	c := e.command("asset delete", "ID", `
Delete an asset and every file stored for it (source, renditions,
thumbnail, storyboard). Its unfinished jobs are cancelled.`)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, func(cl *client.Client) error { return cl.Assets().Delete(ctx, c.pos[0]) }, "Deleted asset "+c.pos[0]+" and its files")
}
