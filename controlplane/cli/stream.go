package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
)

// sourceText renders the source as "1920x1080@30 h264/aac".
func sourceText(s *client.Source) string {
	if s == nil {
		return "-"
	}
	var parts []string
	if s.HasVideo || s.Width > 0 {
		v := fmt.Sprintf("%dx%d", s.Width, s.Height)
		if s.FPS > 0 {
			v += fmt.Sprintf("@%g", s.FPS)
		}
		parts = append(parts, v)
	}
	var codecs []string
	for _, c := range []string{s.VideoCodec, s.AudioCodec} {
		if c != "" {
			codecs = append(codecs, c)
		}
	}
	if len(codecs) > 0 {
		parts = append(parts, strings.Join(codecs, "/"))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func streamCreate(ctx context.Context, e *env, args []string) error {
	c := e.command("stream create", "NAME", `
Create a stream in the org. The answer includes the stream key, which
'livestreams stream key ID' prints again later.`)
	signed := c.fs.Bool("signed", false, "require signed playback tokens (playback_policy signed)")
	noRecord := c.fs.Bool("no-record", false, "do not record the stream")
	latency := c.fs.String("latency", "", "latency mode: standard or low (server default: standard)")
	dvrWindow := c.fs.Duration("dvr-window", 0, "how much of a live session its playlists list, such as 10m (0: the edge's default, 5m; at most 6h)")
	autoCaptions := c.fs.Bool("auto-captions", false, "caption each recording once it is ready (needs --captions-language)")
	captionsLang := c.fs.String("captions-language", "", "language the stream speaks, for its captions: a tag such as en or pt-BR")
	passFlag, passFile := srtPassphraseFlags(c)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	pass, err := c.srtPassphrase(*passFlag, *passFile)
	if err != nil {
		return err
	}
	if *autoCaptions && *captionsLang == "" {
		return c.usage("--auto-captions needs --captions-language, such as en")
	}
	if *dvrWindow < 0 || *dvrWindow%time.Second != 0 {
		return c.usage("--dvr-window must be whole seconds, not %v", *dvrWindow)
	}
	body := client.StreamCreate{Name: c.pos[0], AutoCaptions: *autoCaptions, CaptionsLanguage: *captionsLang,
		DVRWindow: int(*dvrWindow / time.Second), SRTPassphrase: pass}
	if *signed {
		body.PlaybackPolicy = "signed"
	}
	if *noRecord {
		body.Recording = new(bool)
	}
	switch *latency {
	case "":
	case "standard", "low":
		body.LatencyMode = *latency
	default:
		return c.usage("--latency must be standard or low, not %q", *latency)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	s, err := cl.Streams().Create(c.keep(ctx), body)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	if err := c.printStream(&s.Stream); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "\nStream key: %s\nKeep it secret: whoever has it can publish. 'livestreams stream key %s' prints it again.\n", s.StreamKey, s.ID)
	return nil
}

// srtPassphraseFlags adds the flags that set a stream's SRT passphrase.
func srtPassphraseFlags(c *cmd) (value, file *string) {
	value = c.fs.String("srt-passphrase", "", "passphrase SRT publishers must encrypt with, 10 to 79 characters (visible in ps; prefer --srt-passphrase-file)")
	file = c.fs.String("srt-passphrase-file", "", "read the SRT passphrase from the first line of this file (- for stdin)")
	return value, file
}

// srtPassphrase returns the passphrase from --srt-passphrase or the first
// line of --srt-passphrase-file ("" when neither is given).
func (c *cmd) srtPassphrase(value, file string) (string, error) {
	switch {
	case value != "" && file != "":
		return "", c.usage("--srt-passphrase and --srt-passphrase-file are mutually exclusive")
	case file == "":
		return value, nil
	}
	var r io.Reader = c.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("read --srt-passphrase-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read --srt-passphrase-file: %w", err)
	}
	if p := strings.TrimRight(line, "\r\n"); p != "" {
		return p, nil
	}
	return "", c.usage("--srt-passphrase-file: %s has no passphrase on its first line", file)
}

func streamUpdate(ctx context.Context, e *env, args []string) error {
	c := e.command("stream update", "ID", `
Change a stream's settings: only those given change.`)
	name := c.fs.String("name", "", "new name")
	passFlag, passFile := srtPassphraseFlags(c)
	noPass := c.fs.Bool("no-srt-passphrase", false, "remove the SRT passphrase: SRT publishers need none")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	pass, err := c.srtPassphrase(*passFlag, *passFile)
	if err != nil {
		return err
	}
	var body client.StreamUpdate
	if *name != "" {
		body.Name = name
	}
	switch {
	case *noPass && pass != "":
		return c.usage("--no-srt-passphrase and a passphrase are mutually exclusive")
	case *noPass:
		body.SRTPassphrase = new(string)
	case pass != "":
		body.SRTPassphrase = &pass
	}
	if body == (client.StreamUpdate{}) {
		return c.usage("nothing to change: give --name, --srt-passphrase, --srt-passphrase-file or --no-srt-passphrase")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	s, err := cl.Streams().Update(c.keep(ctx), c.pos[0], body)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	return c.printStream(&s)
}

func streamList(ctx context.Context, e *env, args []string) error {
	c := e.command("stream list", "", "List the streams of the org.")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.Stream, error) { return cl.Streams().List(ctx) }
	return listTable(ctx, c, list, "No streams.", []string{"ID", "NAME", "STATUS", "PLAYBACK", "LATENCY", "RECORDING", "CREATED"}, func(s client.Stream) []string {
		status := s.Status
		if s.Disabled {
			status += " (disabled)"
		}
		return []string{s.ID, s.Name, status, s.PlaybackPolicy, s.LatencyMode, yesno(s.Recording), c.ago(s.CreatedAt)}
	})
}

func streamShow(ctx context.Context, e *env, args []string) error {
	c := e.command("stream show", "ID", "Show one stream and its current session.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	s, err := cl.Streams().Get(c.keep(ctx), c.pos[0])
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	return c.printStream(&s)
}

func (c *cmd) printStream(s *client.Stream) error {
	pairs := [][2]string{
		{"ID", s.ID},
		{"Name", s.Name},
		{"Org", s.OrgID},
		{"Status", s.Status},
		{"Disabled", yesno(s.Disabled)},
		{"Playback ID", s.PlaybackID},
		{"Playback policy", s.PlaybackPolicy},
		{"Recording", yesno(s.Recording)},
		{"Latency mode", s.LatencyMode},
		{"DVR window", dvrWindow(s.DVRWindow)},
		{"Auto captions", captionsSetting(s)},
		{"SRT passphrase", map[bool]string{true: "set ('livestreams stream ingest' shows it)", false: "none"}[s.SRTPassphraseSet]},
		{"Ingest URL", orDash(s.IngestURL)},
		{"Playback URL", orDash(s.PlaybackURL)},
		{"Created", c.when(s.CreatedAt)},
		{"Updated", c.when(s.UpdatedAt)},
	}
	if cs := s.CurrentSession; cs != nil {
		pairs = append(pairs,
			[2]string{"Session", cs.ID},
			[2]string{"  Edge", cs.EdgeID},
			[2]string{"  Protocol", cs.Protocol},
			[2]string{"  Remote", orDash(cs.RemoteAddr)},
			[2]string{"  Started", c.when(cs.StartedAt)},
			[2]string{"  Source", sourceText(cs.Source)},
		)
	}
	return fields(c.stdout, pairs)
}

func streamKey(ctx context.Context, e *env, args []string) error {
	c := e.command("stream key", "ID", `
Print the stream key, alone on stdout so scripts can capture it:
  KEY=$(livestreams stream key str_…)`)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.printKey(ctx, client.Streams.Key)
}

func streamResetKey(ctx context.Context, e *env, args []string) error {
	c := e.command("stream reset-key", "ID", `
Replace the stream key and print the new one alone on stdout. The old key
stops working at once: a publisher using it is refused on its next connect.`)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.printKey(ctx, client.Streams.ResetKey)
}

// printKey prints the key that get answers for the stream c.pos[0].
func (c *cmd) printKey(ctx context.Context, get func(client.Streams, context.Context, string) (string, error)) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	key, err := get(cl.Streams(), c.keep(ctx), c.pos[0])
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	if key == "" {
		return fmt.Errorf("stream %s: answer has no stream_key", c.pos[0])
	}
	fmt.Fprintln(c.stdout, key)
	return nil
}

func streamDelete(ctx context.Context, e *env, args []string) error {
	c := e.command("stream delete", "ID", "Delete a stream. Its recordings are not deleted.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, func(cl *client.Client) error { return cl.Streams().Delete(ctx, c.pos[0]) }, "Deleted stream "+c.pos[0])
}

// deleteAndSay makes a call whose answer has no body (a DELETE, a drain)
// and confirms it in one line, or prints nothing with --json.
func (c *cmd) deleteAndSay(ctx context.Context, call func(*client.Client) error, msg string) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	if err := call(cl); err != nil {
		return err
	}
	if !c.g.json {
		fmt.Fprintln(c.stdout, msg)
	}
	return nil
}

func streamSessions(ctx context.Context, e *env, args []string) error {
	c := e.command("stream sessions", "ID", "List the publishing sessions of a stream, newest first.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	list := func(ctx context.Context, cl *client.Client) ([]client.Session, error) {
		return cl.Streams().Sessions(ctx, c.pos[0])
	}
	return listTable(ctx, c, list, "No sessions.", []string{"ID", "EDGE", "PROTOCOL", "REMOTE", "STARTED", "ENDED", "DURATION", "END REASON", "SOURCE"}, func(s client.Session) []string {
		ended, duration := "live", c.now().Sub(s.StartedAt)
		if s.EndedAt != nil && !s.EndedAt.IsZero() {
			ended = c.ago(*s.EndedAt)
			duration = s.EndedAt.Sub(s.StartedAt)
		}
		return []string{s.ID, orDash(s.EdgeID), orDash(s.Protocol), orDash(s.RemoteAddr), c.ago(s.StartedAt), ended,
			duration.Round(time.Second).String(), orDash(s.EndReason), sourceText(s.Source)}
	})
}

// dvrWindow shows a stream's DVR window; 0 is the edge's default.
func dvrWindow(sec int) string {
	if sec == 0 {
		return "default"
	}
	return (time.Duration(sec) * time.Second).String()
}
