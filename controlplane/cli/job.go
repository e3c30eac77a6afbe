package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/livestreams/livestreams/controlplane/client"
)

// progressText renders progress as "40% 120 fps 4x", leaving out what is
// not known.
func progressText(p client.Progress) string {
	s := strconv.FormatFloat(p.Percent, 'f', 0, 64) + "%"
	if p.FPS > 0 {
		s += " " + strconv.FormatFloat(p.FPS, 'f', -1, 64) + " fps"
	}
	if p.Speed > 0 {
		s += " " + strconv.FormatFloat(p.Speed, 'f', -1, 64) + "x"
	}
	return s
}

var jobStates = []string{"queued", "leased", "running", "succeeded", "failed", "cancelled"}

// pageFlags registers --limit and --cursor and sets them in o once parsed.
func (c *cmd) pageFlags() func(o *client.ListOptions) error {
	limit := c.fs.Int("limit", 0, "how many to list, newest first: 1 to 200 (server default: 50)")
	cursor := c.fs.String("cursor", "", "list from this next_cursor of a previous --json answer")
	return func(o *client.ListOptions) error {
		if *limit < 0 || *limit > 200 {
			return c.usage("--limit must be 1 to 200, not %d", *limit)
		}
		o.Limit, o.Cursor = *limit, *cursor
		return nil
	}
}

func jobList(ctx context.Context, e *env, args []string) error {
	c := e.command("job list", "", `
List the org's media jobs, newest first: transcodes of uploads and
recordings, clips, live transcodes. A cluster admin lists another org's
with --org.`)
	st := c.fs.String("state", "", "only jobs in this state: "+strings.Join(jobStates, ", "))
	typ := c.fs.String("type", "", "only jobs of this type: vod, recording-vod, clip, live…")
	asset := c.fs.String("asset", "", "only the jobs of this asset ID")
	paging := c.pageFlags()
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	if *st != "" && !slices.Contains(jobStates, *st) {
		return c.usage("--state must be one of %s, not %q", strings.Join(jobStates, ", "), *st)
	}
	f := client.JobFilter{State: *st, Type: *typ, AssetID: *asset}
	if err := paging(&f.ListOptions); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.Job, error) {
		p, err := cl.Jobs().List(ctx, f)
		return p.Items, err
	}
	return listTable(ctx, c, list, "No jobs.", []string{"ID", "TYPE", "STATE", "ATTEMPTS", "PROGRESS", "EDGE", "ASSET", "CREATED"}, func(j client.Job) []string {
		state := j.State
		if j.CancelRequested && !jobFinished(j.State) {
			state += " (cancelling)"
		}
		prog := "-"
		if j.State == "running" || j.State == "succeeded" {
			prog = progressText(j.Progress)
		}
		return []string{j.ID, j.Type, state, fmt.Sprintf("%d/%d", j.Attempts, j.MaxAttempts), prog, orDash(j.LeaseHolder),
			orDash(j.AssetID), c.ago(j.CreatedAt)}
	})
}

func jobFinished(state string) bool {
	return state == "succeeded" || state == "failed" || state == "cancelled"
}

func jobShow(ctx context.Context, e *env, args []string) error {
	c := e.command("job show", "ID", "Show one job: its state, progress, attempts and what it works on.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	j, err := cl.Jobs().Get(c.keep(ctx), c.pos[0])
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	return c.printJob(&j)
}

func (c *cmd) printJob(j *client.Job) error {
	pairs := [][2]string{
		{"ID", j.ID},
		{"Type", j.Type},
		{"State", j.State},
		{"Cancel requested", yesno(j.CancelRequested)},
		{"Org", j.OrgID},
		{"Asset", orDash(j.AssetID)},
		{"Stream", orDash(j.StreamID)},
		{"Session", orDash(j.SessionID)},
		{"Attempts", fmt.Sprintf("%d of %d", j.Attempts, j.MaxAttempts)},
		{"Last error", orDash(j.LastError)},
		{"Progress", progressText(j.Progress)},
		{"Edge", orDash(j.LeaseHolder)},
		{"Lease expires", c.when(at(j.LeaseExpiresAt))},
		{"Region", orDash(j.Region)},
		{"Queued", c.when(j.QueuedAt)},
		{"Not before", c.when(at(j.NotBefore))},
		{"Created", c.when(j.CreatedAt)},
		{"Updated", c.when(j.UpdatedAt)},
		{"Finished", c.when(at(j.FinishedAt))},
	}
	if p := j.Payload; p != nil {
		pairs = append(pairs, [2]string{"Source", orDash(p.SourceKey)}, [2]string{"Output prefix", orDash(p.Prefix)})
		if p.Start != nil && p.End != nil {
			pairs = append(pairs, [2]string{"Range", fmt.Sprintf("%gs to %gs", *p.Start, *p.End)}, [2]string{"Re-encode", yesno(p.Reencode)})
		}
	}
	if err := fields(c.stdout, pairs); err != nil {
		return err
	}
	if len(j.History) == 0 {
		return nil
	}
	fmt.Fprintln(c.stdout, "\nHistory:")
	rows := make([][]string, 0, len(j.History))
	for i, a := range j.History {
		ended := "running"
		if a.EndedAt != nil && !a.EndedAt.IsZero() {
			ended = c.ago(*a.EndedAt)
		}
		rows = append(rows, []string{strconv.Itoa(i + 1), orDash(a.Edge), c.ago(a.StartedAt), ended, orDash(a.Error)})
	}
	return table(c.stdout, []string{"#", "EDGE", "STARTED", "ENDED", "ERROR"}, rows)
}

func jobCancel(ctx context.Context, e *env, args []string) error {
	c := e.command("job cancel", "ID", `
Cancel a job. A queued job is cancelled at once; a running one stops when
its edge next renews its lease, within seconds. A job that already
succeeded or failed cannot be cancelled.`)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	j, err := cl.Jobs().Cancel(c.keep(ctx), c.pos[0])
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	if j.State == "cancelled" {
		fmt.Fprintf(c.stdout, "Cancelled job %s\n", j.ID)
	} else {
		fmt.Fprintf(c.stdout, "Cancelling job %s: it is %s on %s and stops when the edge next renews its lease.\n", j.ID, j.State, orDash(j.LeaseHolder))
	}
	return nil
}
