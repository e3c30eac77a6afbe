package cli

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// streamView is the API's stream view. It has no key field on purpose:
// only the key answers carry the stream key.
type streamView struct {
	ID             string       `json:"id"`
	OrgID          string       `json:"org_id"`
	Name           string       `json:"name"`
	PlaybackID     string       `json:"playback_id"`
	PlaybackPolicy string       `json:"playback_policy"`
	Recording      bool         `json:"recording"`
	LatencyMode    string       `json:"latency_mode"`
	Disabled       bool         `json:"disabled"`
	Status         string       `json:"status"`
	CurrentSession *sessionView `json:"current_session"`
	IngestURL      string       `json:"ingest_url"`
	PlaybackURL    string       `json:"playback_url"`
	CreatedAt      timestamp    `json:"created_at"`
	UpdatedAt      timestamp    `json:"updated_at"`
}

type sessionView struct {
	ID        string      `json:"id"`
	StreamID  string      `json:"stream_id"`
	EdgeID    string      `json:"edge_id"`
	Protocol  string      `json:"protocol"`
	StartedAt timestamp   `json:"started_at"`
	EndedAt   timestamp   `json:"ended_at"`
	EndReason string      `json:"end_reason"`
	Source    *sourceInfo `json:"source"`
}

type sourceInfo struct {
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	FPS        float64 `json:"fps"`
	HasAudio   bool    `json:"has_audio"`
	HasVideo   bool    `json:"has_video"`
	VideoCodec string  `json:"video_codec"`
	AudioCodec string  `json:"audio_codec"`
}

// String renders the source as "1920x1080@30 h264/aac".
func (s *sourceInfo) String() string {
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

type streamKeyAnswer struct {
	StreamKey string `json:"stream_key"`
}

func streamCreate(ctx context.Context, e *env, args []string) error {
	c := e.command("stream create", "NAME", `
Create a stream in the org. The answer includes the stream key, which
'livestreams stream key ID' prints again later.`)
	signed := c.fs.Bool("signed", false, "require signed playback tokens (playback_policy signed)")
	noRecord := c.fs.Bool("no-record", false, "do not record the stream")
	latency := c.fs.String("latency", "", "latency mode: standard or low (server default: standard)")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	body := map[string]any{"name": c.pos[0]}
	if *signed {
		body["playback_policy"] = "signed"
	}
	if *noRecord {
		body["recording"] = false
	}
	switch *latency {
	case "":
	case "standard", "low":
		body["latency_mode"] = *latency
	default:
		return c.usage("--latency must be standard or low, not %q", *latency)
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	var s struct {
		streamView
		streamKeyAnswer
	}
	raw, err := cl.post(ctx, "/v1/streams", body, &s)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	if err := c.printStream(&s.streamView); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "\nStream key: %s\nKeep it secret: whoever has it can publish. 'livestreams stream key %s' prints it again.\n", s.StreamKey, s.ID)
	return nil
}

func streamList(ctx context.Context, e *env, args []string) error {
	c := e.command("stream list", "", "List the streams of the org.")
	if err := c.parse(args, 0, 0); err != nil {
		return err
	}
	return listTable(ctx, c, "/v1/streams", "No streams.", []string{"ID", "NAME", "STATUS", "PLAYBACK", "LATENCY", "RECORDING", "CREATED"}, func(s streamView) []string {
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
	var s streamView
	raw, err := cl.get(ctx, pathf("/v1/streams/%s", c.pos[0]), &s)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	return c.printStream(&s)
}

func (c *cmd) printStream(s *streamView) error {
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
			[2]string{"  Started", c.when(cs.StartedAt)},
			[2]string{"  Source", cs.Source.String()},
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
	return c.printKey(ctx, request{method: "GET", path: pathf("/v1/streams/%s/key", c.pos[0])})
}

func streamResetKey(ctx context.Context, e *env, args []string) error {
	c := e.command("stream reset-key", "ID", `
Replace the stream key and print the new one alone on stdout. The old key
stops working at once: a publisher using it is refused on its next connect.`)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.printKey(ctx, request{method: "POST", path: pathf("/v1/streams/%s/reset-key", c.pos[0]), body: struct{}{}})
}

func (c *cmd) printKey(ctx context.Context, r request) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	var k streamKeyAnswer
	raw, err := cl.call(ctx, r, &k)
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	if k.StreamKey == "" {
		return fmt.Errorf("%s %s: answer has no stream_key", r.method, r.path)
	}
	fmt.Fprintln(c.stdout, k.StreamKey)
	return nil
}

func streamDelete(ctx context.Context, e *env, args []string) error {
	c := e.command("stream delete", "ID", "Delete a stream. Its recordings are not deleted.")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	return c.deleteAndSay(ctx, pathf("/v1/streams/%s", c.pos[0]), "Deleted stream "+c.pos[0])
}

// deleteAndSay sends a DELETE and confirms it in one line, or prints nothing
// with --json (the API answers 204, no body).
func (c *cmd) deleteAndSay(ctx context.Context, path, msg string) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	if err := cl.delete(ctx, path); err != nil {
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
	return listTable(ctx, c, pathf("/v1/streams/%s/sessions", c.pos[0]), "No sessions.", []string{"ID", "EDGE", "PROTOCOL", "STARTED", "ENDED", "DURATION", "END REASON", "SOURCE"}, func(s sessionView) []string {
		ended, duration := "live", c.now().Sub(s.StartedAt.Time)
		if !s.EndedAt.IsZero() {
			ended = c.ago(s.EndedAt)
			duration = s.EndedAt.Sub(s.StartedAt.Time)
		}
		return []string{s.ID, orDash(s.EdgeID), orDash(s.Protocol), c.ago(s.StartedAt), ended,
			duration.Round(time.Second).String(), orDash(s.EndReason), s.Source.String()}
	})
}
