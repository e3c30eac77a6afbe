package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// timestamp is a time in an API answer. It accepts null and "" as well as
// RFC 3339, so an absent time renders as "-" instead of failing the decode.
type timestamp struct{ time.Time }

func (t *timestamp) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" || s == `""` {
		t.Time = time.Time{}
		return nil
	}
	return t.Time.UnmarshalJSON(b)
}

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
func (e *env) ago(t timestamp) string {
	if t.IsZero() {
		return "-"
	}
	d := e.now().Sub(t.Time)
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
func (e *env) when(t timestamp) string {
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

// pathf builds an API path, escaping each argument as one path segment so
// an ID cannot reach another route.
func pathf(format string, args ...string) string {
	esc := make([]any, len(args))
	for i, a := range args {
		esc[i] = url.PathEscape(a)
	}
	return fmt.Sprintf(format, esc...)
}

// listTable fetches a list route and prints it: the answer as it came with
// --json, else a line saying the list is empty, else a table of one row
// per item.
func listTable[T any](ctx context.Context, c *cmd, path, empty string, header []string, row func(T) []string) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	var list struct {
		Items []T `json:"items"`
	}
	raw, err := cl.get(ctx, path, &list)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	if len(list.Items) == 0 {
		fmt.Fprintln(c.stdout, empty)
		return nil
	}
	rows := make([][]string, 0, len(list.Items))
	for _, it := range list.Items {
		rows = append(rows, row(it))
	}
	return table(c.stdout, header, rows)
}
