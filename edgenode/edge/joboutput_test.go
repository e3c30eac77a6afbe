package edge

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/livestreams/livestreams/shared/testutil"
)

// TestJobOutputCollectsByJob: the runner's job loggers (With job_id, then
// per process) collect their ffmpeg lines per job, bounded, whatever the
// base logger's level, which still gets only what it asks for.
func TestJobOutputCollectsByJob(t *testing.T) {
	var base testutil.SyncBuffer
	o := NewJobOutput()
	log := o.Logger(slog.New(slog.NewTextHandler(&base, &slog.HandlerOptions{Level: slog.LevelInfo})))
	a := log.With("job_id", "job_a", "attempt", 1).With("pid", 42)
	b := log.With("job_id", "job_b")
	for i := range 250 {
		a.Debug("ffmpeg stderr", "line", fmt.Sprintf("a line %d", i))
	}
	b.Debug("ffmpeg stderr", "line", "b line")
	b.Debug("something else", "line", "not output")
	log.Debug("ffmpeg stderr", "line", "no job")
	b.Info("ffmpeg exited")

	if fresh := o.fresh("job_b"); len(fresh) != 1 || fresh[0] != "b line" {
		t.Fatalf("fresh lines of b: %q", fresh)
	}
	if again := o.fresh("job_b"); len(again) != 0 {
		t.Fatalf("fresh lines twice: %q", again)
	}
	lines, truncated := o.take("job_a")
	if len(lines) != jobOutputLines || !truncated || lines[len(lines)-1] != "a line 249" || lines[0] != "a line 50" {
		t.Fatalf("job a kept %d lines (%q … %q), truncated %v", len(lines), lines[0], lines[len(lines)-1], truncated)
	}
	if lines, _ := o.take("job_a"); lines != nil {
		t.Fatal("take did not forget")
	}
	if out := base.String(); strings.Contains(out, "ffmpeg stderr") || !strings.Contains(out, "ffmpeg exited") {
		t.Fatalf("the base logger got:\n%s", out)
	}
}
