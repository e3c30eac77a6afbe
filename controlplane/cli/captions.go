package cli

import (
	"context"

	"github.com/livestreams/livestreams/controlplane/client"
)

func assetCaptions(ctx context.Context, e *env, args []string) error {
	c := e.command("asset captions", "ID", `
Caption a ready asset's speech: queue a captions job that writes a WebVTT
file and adds a subtitles rendition to the asset's HLS playlist. Its
progress shows in 'livestreams job show' and 'livestreams asset show'.`)
	lang := c.fs.String("language", "", "language the asset speaks: a tag such as en or pt-BR (required)")
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	if *lang == "" {
		return c.usage("--language is required, such as en")
	}
	cl, err := c.client()
	if err != nil {
		return err
	}
	j, err := cl.Assets().Captions(c.keep(ctx), c.pos[0], client.CaptionsCreate{Language: *lang})
	if err != nil {
		return err
	}
	if c.g.json {
		return c.printAnswer()
	}
	return c.printJob(&j)
}

// captionsSetting says whether a stream's recordings are captioned, and
// in which language.
func captionsSetting(s *client.Stream) string {
	if !s.AutoCaptions {
		return "no"
	}
	return "yes (" + s.CaptionsLanguage + ")"
}
