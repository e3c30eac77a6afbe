package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
)

func analyticsShow(ctx context.Context, e *env, args []string) error {
	c := e.command("analytics", "", `
Show the viewing figures of a stream or an asset: views, unique viewers,
peak concurrent viewers, watch time, startup time (p50/p95), rebuffer
ratio and error rate, for the whole range and per minute, hour, country,
city or edge. Times are RFC 3339 or relative to now (-24h, -90m).`)
	stream := c.fs.String("stream", "", "stream id")
	asset := c.fs.String("asset", "", "asset id")
	from := c.fs.String("from", "-24h", "start of the range")
	to := c.fs.String("to", "", "end of the range (default now)")
	groupBy := c.fs.String("group-by", "hour", "minute, hour, country, city or edge")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if (*stream == "") == (*asset == "") {
		return c.usage("give one of --stream and --asset")
	}
	q := client.AnalyticsQuery{StreamID: *stream, AssetID: *asset, GroupBy: *groupBy}
	now := time.Now()
	var err error
	if q.From, err = whenFlag(*from, now); err != nil {
		return c.usage("--from: %v", err)
	}
	if *to != "" {
		if q.To, err = whenFlag(*to, now); err != nil {
			return c.usage("--to: %v", err)
		}
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	a, err := cl.Analytics(c.keep(ctx), q)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	fmt.Fprintf(c.stdout, "%s to %s\n\n", a.From.Format(time.RFC3339), a.To.Format(time.RFC3339))
	header := []string{"", "VIEWS", "UNIQUE", "PEAK", "WATCH", "STARTUP P50/P95", "REBUFFER", "ERRORS", "SEGMENTS"}
	row := func(name string, f client.AnalyticsFigures) []string {
		return []string{name, strconv.FormatInt(f.Views, 10), strconv.FormatInt(f.UniqueViewers, 10), strconv.FormatInt(f.PeakConcurrent, 10),
			(time.Duration(f.WatchSeconds) * time.Second).String(),
			fmt.Sprintf("%.0f/%.0f ms", f.StartupP50MS, f.StartupP95MS),
			fmt.Sprintf("%.2f%%", f.RebufferRatio*100), fmt.Sprintf("%.2f%%", f.ErrorRate*100), strconv.FormatInt(f.Segments, 10)}
	}
	rows := [][]string{row("total", a.Totals)}
	for _, b := range a.Buckets {
		name := b.Edge
		switch {
		case b.Time != nil:
			name = b.Time.Format("2006-01-02 15:04")
		case b.City != "":
			name = b.City + ", " + b.Country
		case b.Country != "":
			name = b.Country
		}
		rows = append(rows, row(name, b.AnalyticsFigures))
	}
	return table(c.stdout, header, rows)
}

// whenFlag reads a time flag: RFC 3339, or a duration relative to now.
func whenFlag(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration like -24h", v)
	}
	return t, nil
}
