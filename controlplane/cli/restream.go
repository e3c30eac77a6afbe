package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/livestreams/livestreams/controlplane/client"
)

// The restream commands. A target's stream key is read from a file or
// stdin, never from the command line by default, so that neither the
// shell's history nor ps shows it; --key is accepted with a warning.

func restreamKeyFlags(c *cmd) (value, file *string) {
	value = c.fs.String("key", "", "the target's stream key (visible in ps and shell history; prefer --key-file)")
	file = c.fs.String("key-file", "", "read the target's stream key from the first line of this file (- for stdin)")
	return value, file
}

// restreamKey returns the key from --key or --key-file; with neither and
// fromStdin it reads stdin's first line. "" means none was given.
func (c *cmd) restreamKey(value, file string, fromStdin bool) (string, error) {
	switch {
	case value != "" && file != "":
		return "", c.usage("--key and --key-file are mutually exclusive")
	case value != "":
		fmt.Fprintln(c.stderr, "livestreams: warning: --key puts the key in ps output and shell history; prefer --key-file FILE or stdin")
		return value, nil
	case file == "" && !fromStdin:
		return "", nil
	}
	var r io.Reader = c.stdin
	name := "stdin"
	if file != "" && file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("read --key-file: %w", err)
		}
		defer f.Close()
		r, name = f, file
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the key from %s: %w", name, err)
	}
	if k := strings.TrimSpace(line); k != "" {
		return k, nil
	}
	return "", c.usage("no stream key on the first line of %s (give --key-file FILE, or the key on stdin)", name)
}

func restreamList(ctx context.Context, e *env, args []string) error {
	c := e.command("restream list", "STREAM", "List a stream's restream targets and the state of their relays.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.RestreamTarget, error) {
		return cl.RestreamTargets(c.pos[0]).List(ctx)
	}
	return listTable(ctx, c, list, "No restream targets.", []string{"ID", "NAME", "PRESET", "URL", "KEY", "ENABLED", "STATUS", "LAST ERROR"},
		func(t client.RestreamTarget) []string {
			return []string{t.ID, t.Name, t.Preset, t.URL, keyText(t), yesno(t.Enabled), t.Status, orDash(t.LastError)}
		})
}

// keyText shows what the API says of a key: whether it is set and, for a
// long one, its last four characters.
func keyText(t client.RestreamTarget) string {
	switch {
	case !t.KeySet:
		return "none"
	case t.KeyLast4 != "":
		return "…" + t.KeyLast4
	}
	return "set"
}

func (c *cmd) printRestreamTarget(t *client.RestreamTarget) error {
	return fields(c.stdout, [][2]string{
		{"ID", t.ID},
		{"Stream", t.StreamID},
		{"Name", t.Name},
		{"Preset", t.Preset},
		{"URL", t.URL},
		{"Key", keyText(*t)},
		{"Enabled", yesno(t.Enabled)},
		{"Status", t.Status},
		{"Last error", orDash(t.LastError)},
		{"Job", orDash(t.JobID)},
		{"Created", c.when(t.CreatedAt)},
		{"Updated", c.when(t.UpdatedAt)},
	})
}

func restreamShow(ctx context.Context, e *env, args []string) error {
	c := e.command("restream show", "STREAM TARGET", "Show one restream target.")
	if err := c.parse(args, 2, 2); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	t, err := cl.RestreamTargets(c.pos[0]).Get(c.keep(ctx), c.pos[1])
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	return c.printRestreamTarget(&t)
}

func restreamAdd(ctx context.Context, e *env, args []string) error {
	c := e.command("restream add", "STREAM", `
Add a restream target: while the stream is live, the edge it is published
to relays it as it is (no re-encode) to the target. Presets fill the
ingest URL: youtube, twitch, facebook, kick; custom needs --url. The
target's stream key is read from --key-file, or from stdin:
  livestreams restream add str_… --name YouTube --preset youtube --key-file yt.key
  pass show yt | livestreams restream add str_… --name YouTube --preset youtube`)
	name := c.fs.String("name", "", "display name (required)")
	preset := c.fs.String("preset", "custom", "youtube, twitch, facebook, kick or custom")
	u := c.fs.String("url", "", "ingest URL, rtmp://host[:port]/app or rtmps://… (required for custom; else the preset's)")
	disabled := c.fs.Bool("disabled", false, "add it switched off")
	keyFlag, keyFile := restreamKeyFlags(c)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	if *name == "" {
		return c.usage("--name is required")
	}
	key, err := c.restreamKey(*keyFlag, *keyFile, true)
	if err != nil {
		return err
	}
	enabled := !*disabled
	cl, err := c.client()
	if err != nil {
		return err
	}
	t, err := cl.RestreamTargets(c.pos[0]).Create(c.keep(ctx), client.RestreamTargetCreate{Name: *name, Preset: *preset, URL: *u, Key: key, Enabled: &enabled})
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	return c.printRestreamTarget(&t)
}

func restreamUpdate(ctx context.Context, e *env, args []string) error {
	c := e.command("restream update", "STREAM TARGET", `
Change a restream target: only what is given changes. A new URL or key
while the stream is live restarts the relay with it.`)
	name := c.fs.String("name", "", "new name")
	preset := c.fs.String("preset", "", "new preset (its URL unless --url is given)")
	u := c.fs.String("url", "", "new ingest URL")
	keyFlag, keyFile := restreamKeyFlags(c)
	if err := c.parse(args, 2, 2); err != nil {
		return err
	}
	key, err := c.restreamKey(*keyFlag, *keyFile, false)
	if err != nil {
		return err
	}
	var body client.RestreamTargetUpdate
	for _, f := range []struct {
		v   string
		dst **string
	}{{*name, &body.Name}, {*preset, &body.Preset}, {*u, &body.URL}, {key, &body.Key}} {
		if f.v != "" {
			v := f.v
			*f.dst = &v
		}
	}
	if body == (client.RestreamTargetUpdate{}) {
		return c.usage("nothing to change: give --name, --preset, --url, --key-file or --key")
	}
	return c.updateRestream(ctx, body)
}

func (c *cmd) updateRestream(ctx context.Context, body client.RestreamTargetUpdate) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	t, err := cl.RestreamTargets(c.pos[0]).Update(c.keep(ctx), c.pos[1], body)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	return c.printRestreamTarget(&t)
}

func restreamToggle(on bool) func(ctx context.Context, e *env, args []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		verb, help := "disable", "Switch a restream target off: its relay stops at once."
		if on {
			verb, help = "enable", "Switch a restream target on: if the stream is live, its relay starts."
		}
		c := e.command("restream "+verb, "STREAM TARGET", help)
		if err := c.parse(args, 2, 2); err != nil {
			return err
		}
		return c.updateRestream(ctx, client.RestreamTargetUpdate{Enabled: &on})
	}
}

func restreamRemove(ctx context.Context, e *env, args []string) error {
	c := e.command("restream remove", "STREAM TARGET", "Delete a restream target; its relay stops.")
	if err := c.parse(args, 2, 2); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, func(cl *client.Client) error {
		return cl.RestreamTargets(c.pos[0]).Delete(c.keep(ctx), c.pos[1])
	}, "Restream target "+c.pos[1]+" removed.")
}
