package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// jobView is the API's job view.
type jobView struct {
	ID              string      `json:"id"`
	OrgID           string      `json:"org_id"`
	Type            string      `json:"type"`
	State           string      `json:"state"`
	Attempts        int         `json:"attempts"`
	MaxAttempts     int         `json:"max_attempts"`
	LastError       string      `json:"last_error"`
	History         []attempt   `json:"history"`
	LeaseHolder     string      `json:"lease_holder"`
	LeaseExpiresAt  timestamp   `json:"lease_expires_at"`
	QueuedAt        timestamp   `json:"queued_at"`
	NotBefore       timestamp   `json:"not_before"`
	Region          string      `json:"region"`
	Progress        progress    `json:"progress"`
	AssetID         string      `json:"asset_id"`
	StreamID        string      `json:"stream_id"`
	SessionID       string      `json:"session_id"`
	Payload         *jobPayload `json:"payload"`
	CreatedAt       timestamp   `json:"created_at"`
	UpdatedAt       timestamp   `json:"updated_at"`
	FinishedAt      timestamp   `json:"finished_at"`
	CancelRequested bool        `json:"cancel_requested"`
}

type attempt struct {
	Edge      string    `json:"edge"`
	StartedAt timestamp `json:"started_at"`
	EndedAt   timestamp `json:"ended_at"`
	Error     string    `json:"error"`
}

type progress struct {
	Percent float64 `json:"percent"`
	FPS     float64 `json:"fps"`
	Speed   float64 `json:"speed"`
}

// String renders progress as "40% 120 fps 4x", leaving out what is not
// known.
func (p progress) String() string {
	s := strconv.FormatFloat(p.Percent, 'f', 0, 64) + "%"
	if p.FPS > 0 {
		s += " " + strconv.FormatFloat(p.FPS, 'f', -1, 64) + " fps"
	}
	if p.Speed > 0 {
		s += " " + strconv.FormatFloat(p.Speed, 'f', -1, 64) + "x"
	}
	return s
}

type jobPayload struct {
	SourceKey string   `json:"source_key"`
	Prefix    string   `json:"prefix"`
	Start     *float64 `json:"start"`
	End       *float64 `json:"end"`
	Reencode  bool     `json:"reencode"`
}

var jobStates = []string{"queued", "leased", "running", "succeeded", "failed", "cancelled"}

// pageFlags registers --limit and --cursor and adds them to q once parsed.
func (c *cmd) pageFlags() func(q url.Values) error {
	limit := c.fs.Int("limit", 0, "how many to list, newest first: 1 to 200 (server default: 50)")
	cursor := c.fs.String("cursor", "", "list from this next_cursor of a previous --json answer")
	return func(q url.Values) error {
		if *limit < 0 || *limit > 200 {
			return c.usage("--limit must be 1 to 200, not %d", *limit)
		}
		if *limit > 0 {
			q.Set("limit", strconv.Itoa(*limit))
		}
		if *cursor != "" {
			q.Set("cursor", *cursor)
		}
		return nil
	}
}

// withQuery appends q to path when it holds anything.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
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
	q := url.Values{}
	if *st != "" {
		if !slices.Contains(jobStates, *st) {
			return c.usage("--state must be one of %s, not %q", strings.Join(jobStates, ", "), *st)
		}
		q.Set("state", *st)
	}
	if *typ != "" {
		q.Set("type", *typ)
	}
	if *asset != "" {
		q.Set("asset_id", *asset)
	}
	if err := paging(q); err != nil {
		return err
	}
	return listTable(ctx, c, withQuery("/v1/jobs", q), "No jobs.", []string{"ID", "TYPE", "STATE", "ATTEMPTS", "PROGRESS", "EDGE", "ASSET", "CREATED"}, func(j jobView) []string {
		state := j.State
		if j.CancelRequested && !j.finished() {
			state += " (cancelling)"
		}
		prog := "-"
		if j.State == "running" || j.State == "succeeded" {
			prog = j.Progress.String()
		}
		return []string{j.ID, j.Type, state, fmt.Sprintf("%d/%d", j.Attempts, j.MaxAttempts), prog, orDash(j.LeaseHolder),
			orDash(j.AssetID), c.ago(j.CreatedAt)}
	})
}

func (j *jobView) finished() bool {
	return j.State == "succeeded" || j.State == "failed" || j.State == "cancelled"
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
	var j jobView
	raw, err := cl.get(ctx, pathf("/v1/jobs/%s", c.pos[0]), &j)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	return c.printJob(&j)
}

func (c *cmd) printJob(j *jobView) error {
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
		{"Progress", j.Progress.String()},
		{"Edge", orDash(j.LeaseHolder)},
		{"Lease expires", c.when(j.LeaseExpiresAt)},
		{"Region", orDash(j.Region)},
		{"Queued", c.when(j.QueuedAt)},
		{"Not before", c.when(j.NotBefore)},
		{"Created", c.when(j.CreatedAt)},
		{"Updated", c.when(j.UpdatedAt)},
		{"Finished", c.when(j.FinishedAt)},
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
		if !a.EndedAt.IsZero() {
			ended = c.ago(a.EndedAt)
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
	var j jobView
	raw, err := cl.call(ctx, request{method: http.MethodDelete, path: pathf("/v1/jobs/%s", c.pos[0])}, &j)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	if j.State == "cancelled" {
		fmt.Fprintf(c.stdout, "Cancelled job %s\n", j.ID)
	} else {
		fmt.Fprintf(c.stdout, "Cancelling job %s: it is %s on %s and stops when the edge next renews its lease.\n", j.ID, j.State, orDash(j.LeaseHolder))
	}
	return nil
}
