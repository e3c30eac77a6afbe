package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
)

// printJSON prints an API answer indented, otherwise unchanged. An empty
// answer (204) prints nothing.
func (c *cmd) printJSON(raw []byte) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("answer is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := c.stdout.Write(buf.Bytes())
	return err
}

// printValue prints v as indented JSON, for commands whose --json answer is
// not a single API answer.
func (c *cmd) printValue(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints rows under a header, columns aligned.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fields prints label/value pairs, values aligned.
func fields(w io.Writer, pairs [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range pairs {
		fmt.Fprintf(tw, "%s:\t%s\n", p[0], p[1])
	}
	return tw.Flush()
}

// ago renders t relative to now for tables: "3m ago", "in 59m", "-" when
// unset. Beyond a month the date says more than a count of days.
func (e *env) ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := e.now().Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	case d < 30*24*time.Hour:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	default:
		return t.UTC().Format(time.DateOnly)
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// when renders t in full for detail views: "2024-05-01T10:00:00Z (3m ago)".
func (e *env) when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339) + " (" + e.ago(t) + ")"
}

func yesno(b bool) string { return strconv.FormatBool(b) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// at is the time *t, or the zero time (rendered "-") when t is nil.
func at(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// listTable prints a list: the answer as it came with --json, else a line
// saying the list is empty, else a table of one row per item. fetch makes
// the call under the context it is given.
func listTable[T any](ctx context.Context, c *cmd, fetch func(context.Context, *client.Client) ([]T, error), empty string, header []string, row func(T) []string) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	items, err := fetch(c.keep(ctx), cl)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	if len(items) == 0 {
		fmt.Fprintln(c.stdout, empty)
		return nil
	}
	rows := make([][]string, 0, len(items))
	for _, it := range items {
		rows = append(rows, row(it))
	}
	return table(c.stdout, header, rows)
}
