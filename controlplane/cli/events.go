package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
)

// logStart is the id before every event: listing "after" it starts at
// the oldest event kept.
const logStart = "0000000000000000-0000"

func eventsCmd(ctx context.Context, e *env, args []string) error {
	c := e.command("events", "", `
Print the org's events (publish.authorized, session.ended, job.progress…),
oldest first: by default the stored ones, with --follow the live stream,
reconnecting (to any of --addr) after the last event seen, so none is lost
or printed twice. --json prints one event per line as the API sends it.`)
	stream := c.fs.String("stream", "", "only the events of this stream")
	asset := c.fs.String("asset", "", "only the events of this asset")
	job := c.fs.String("job", "", "only the events of this job")
	types := c.fs.String("type", "", "only these event types (comma-separated)")
	after := c.fs.String("after", "", "start after this event id (default: the oldest kept; with --follow, new events only)")
	limit := c.fs.Int("limit", 100, "most stored events to print (without --follow)")
	follow := c.fs.Bool("follow", false, "stream events as they happen until interrupted")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	f := client.EventFilter{StreamID: *stream, AssetID: *asset, JobID: *job}
	if *types != "" {
		f.Types = strings.Split(*types, ",")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	print := func(ev client.Event) error { return printEvent(c.stdout, ev, c.g.json) }
	if *follow {
		return cl.Events().Follow(ctx, f, *after, print)
	}
	from := *after
	if from == "" {
		from = logStart
	}
	left := *limit
	for left > 0 {
		p, err := cl.Events().List(ctx, f, from, min(left, 500))
		if err != nil {
			return err
		}
		for _, ev := range p.Items {
			if err := print(ev); err != nil {
				return err
			}
		}
		left -= len(p.Items)
		if p.NextCursor == "" || len(p.Items) == 0 {
			break
		}
		from = p.NextCursor
	}
	return nil
}

// printEvent writes one event: its JSON on a line, or a line for people
// (time, type, the ids it concerns, its data).
func printEvent(w io.Writer, ev client.Event, asJSON bool) error {
	if asJSON {
		raw, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", raw)
		return err
	}
	var about []string
	for _, kv := range [][2]string{{"stream", ev.StreamID}, {"session", ev.SessionID}, {"asset", ev.AssetID}, {"job", ev.JobID}} {
		if kv[1] != "" {
			about = append(about, kv[0]+"="+kv[1])
		}
	}
	id := ev.ID
	if id == "" {
		id = "-" // ephemeral: progress
	}
	_, err := fmt.Fprintf(w, "%s  %-21s  %-20s  %s  %s\n", ev.At.Local().Format(time.DateTime), id, ev.Type,
		strings.Join(about, " "), ev.Data)
	return err
}

func jobLog(ctx context.Context, e *env, args []string) error {
	c := e.command("job log", "JOB_ID", `
Print the last lines of a job's ffmpeg output: what the last attempt
printed once it ended, or what the control plane has seen while it runs.`)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	l, err := cl.JobLog(c.keep(ctx), c.fs.Arg(0))
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	if l.Truncated {
		fmt.Fprintln(c.stdout, "[older lines dropped]")
	}
	for _, line := range l.Lines {
		fmt.Fprintln(c.stdout, line)
	}
	if l.Running {
		fmt.Fprintln(c.stdout, "[the job is running]")
	}
	return nil
}
