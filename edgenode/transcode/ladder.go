package transcode

import (
	"cmp"
	"fmt"
	"slices"
)

// Rung is one rendition of the ladder. Width and Height are a bounding box:
// the source is scaled to fit inside it, keeping its aspect ratio.
type Rung struct {
	Name string // "720p"; names the variant's directory and playlist entry

	Width, Height int

	// VideoKbps is the target video bitrate. MaxrateKbps and BufsizeKbps
	// bound it for the VBV; zero derives them (107 % and 150 % of VideoKbps).
	VideoKbps, MaxrateKbps, BufsizeKbps int

	// AudioKbps is the AAC bitrate when the source has audio; zero means
	// defaultAudioKbps.
	AudioKbps int
}

const (
	defaultAudioKbps = 128
	// minFallbackKbps keeps the single rung of a tiny source watchable.
	minFallbackKbps = 100
)

// DefaultLadder is the ladder used when Params.Ladder is nil: three rungs
// that cover phones to desktops with H.264 Main at modest bitrates.
func DefaultLadder() []Rung {
	return []Rung{
		{Name: "720p", Width: 1280, Height: 720, VideoKbps: 3000, MaxrateKbps: 3210, BufsizeKbps: 4500, AudioKbps: 128},
		{Name: "480p", Width: 854, Height: 480, VideoKbps: 1400, MaxrateKbps: 1498, BufsizeKbps: 2100, AudioKbps: 96},
		{Name: "360p", Width: 640, Height: 360, VideoKbps: 800, MaxrateKbps: 856, BufsizeKbps: 1200, AudioKbps: 64},
	}
}

// validate checks one rung and fills its derived bitrates.
func (r Rung) validate() (Rung, error) {
	if !validRungName(r.Name) {
		return r, fmt.Errorf("rung %q: name must be 1-32 letters, digits, '-' or '_'", r.Name)
	}
	if r.Width <= 0 || r.Height <= 0 {
		return r, fmt.Errorf("rung %s: size %dx%d must be positive", r.Name, r.Width, r.Height)
	}
	if r.VideoKbps <= 0 || r.MaxrateKbps < 0 || r.BufsizeKbps < 0 || r.AudioKbps < 0 {
		return r, fmt.Errorf("rung %s: bitrates must be positive (video %dk, maxrate %dk, bufsize %dk, audio %dk)",
			r.Name, r.VideoKbps, r.MaxrateKbps, r.BufsizeKbps, r.AudioKbps)
	}
	if r.MaxrateKbps == 0 {
		r.MaxrateKbps = r.VideoKbps * 107 / 100
	}
	if r.BufsizeKbps == 0 {
		r.BufsizeKbps = r.VideoKbps * 3 / 2
	}
	if r.AudioKbps == 0 {
		r.AudioKbps = defaultAudioKbps
	}
	if r.MaxrateKbps < r.VideoKbps {
		return r, fmt.Errorf("rung %s: maxrate %dk is below the bitrate %dk", r.Name, r.MaxrateKbps, r.VideoKbps)
	}
	return r, nil
}

// validRungName keeps names safe where they end up: a directory name, an
// entry of -var_stream_map (space and comma separated) and a URI.
func validRungName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// selectRungs returns the rungs src gets, tallest first. A rung taller than
// the source would be an upscale, which spends bits on no detail; a source
// shorter than every rung gets one rung at its own (even) size instead.
func selectRungs(ladder []Rung, src Source) ([]Rung, error) {
	if len(ladder) == 0 {
		return nil, fmt.Errorf("ladder has no rungs")
	}
	rungs := make([]Rung, 0, len(ladder))
	seen := make(map[string]bool, len(ladder))
	for _, r := range ladder {
		r, err := r.validate()
		if err != nil {
			return nil, err
		}
		if seen[r.Name] {
			return nil, fmt.Errorf("rung %s: name used twice", r.Name)
		}
		seen[r.Name] = true
		rungs = append(rungs, r)
	}
	slices.SortStableFunc(rungs, func(a, b Rung) int {
		return cmp.Or(cmp.Compare(b.Height, a.Height), cmp.Compare(b.VideoKbps, a.VideoKbps))
	})

	var out []Rung
	for _, r := range rungs {
		if r.Height <= src.Height {
			out = append(out, r)
		}
	}
	if len(out) > 0 {
		return out, nil
	}

	smallest := rungs[len(rungs)-1]
	w, h := src.Width&^1, src.Height&^1 // x264 needs even dimensions
	if w < 2 || h < 2 {
		return nil, fmt.Errorf("source %dx%d is too small to encode", src.Width, src.Height)
	}
	// Spend bits in proportion to pixels, relative to the smallest rung.
	scale := float64(w*h) / float64(smallest.Width*smallest.Height)
	video := max(int(float64(smallest.VideoKbps)*scale), minFallbackKbps)
	only, err := Rung{
		Name: fmt.Sprintf("%dp", h), Width: w, Height: h,
		VideoKbps: video, AudioKbps: smallest.AudioKbps,
	}.validate()
	if err != nil {
		return nil, err
	}
	return []Rung{only}, nil
}
