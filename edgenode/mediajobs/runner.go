package mediajobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livestreams/livestreams/edgenode/captions"
	"github.com/livestreams/livestreams/edgenode/transcode"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
)

// Config configures a Runner.
type Config struct {
	Store objstore.Store
	// FFmpeg and FFprobe are the programs to run; "" finds them in PATH.
	FFmpeg, FFprobe string
	// WorkDir is scratch space that belongs to this Runner: each job works
	// in its own subdirectory, removed when it ends, and leftovers of a
	// crash are removed by NewRunner. Default: a new directory in the
	// system's temp directory, removed by Close.
	WorkDir string
	Logger  *slog.Logger
	// PresignTTL is how long the URL ffmpeg reads a source through stays
	// valid (default 6h); a job with a longer timeout gets longer.
	PresignTTL time.Duration
	// Captions chooses the engine of captions jobs.
	Captions CaptionsConfig
}

// DefaultPresignTTL is Config.PresignTTL's default.
const DefaultPresignTTL = 6 * time.Hour

// Runner runs media jobs. It is safe for concurrent use: each Run has its
// own directory and processes.
type Runner struct {
	store      objstore.Store
	ffmpegBin  string
	ffprobeBin string
	workDir    string
	ownWorkDir bool // made by NewRunner, removed by Close
	log        *slog.Logger
	presignTTL time.Duration
	proxy      *inputProxy // what ffmpeg reads presigned sources through
	// captions is the speech-to-text engine (nil: no captions jobs), its
	// name for logs, and the languages it knows (nil: any).
	captions      captions.Engine
	captionsName  string
	captionsLangs map[string]bool

	mu   sync.Mutex
	pids map[int]struct{}
}

// Nice is how far below normal CPU priority every process of a job or a
// Thumbnail runs: live ladders, at normal priority, come first.
const Nice = 10

// Timing of the processes a job starts.
const (
	// cancelGrace is how long a cancelled ffmpeg gets to exit on SIGTERM
	// before its process group is killed. Nothing of a cancelled job is
	// kept, so there is nothing for ffmpeg to finish cleanly.
	cancelGrace = 100 * time.Millisecond
	// stallTimeout stops a long ffmpeg run that stops reporting progress
	// (a read that hangs despite -rw_timeout, a wedged encoder).
	stallTimeout = 2 * time.Minute
)

// NewRunner checks cfg, finds ffmpeg and ffprobe, and clears WorkDir of
// what a previous process left behind.
func NewRunner(cfg Config) (*Runner, error) {
	if cfg.Store == nil {
		return nil, errors.New("media runner: no object store")
	}
	ffmpeg, err := findProgram(cfg.FFmpeg, "ffmpeg")
	if err != nil {
		return nil, err
	}
	ffprobe, err := findProgram(cfg.FFprobe, "ffprobe")
	if err != nil {
		return nil, err
	}
	ttl := cfg.PresignTTL
	if ttl == 0 {
		ttl = DefaultPresignTTL
	}
	if ttl < time.Minute || ttl > objstore.MaxPresignTTL {
		return nil, fmt.Errorf("media runner: presign ttl %s: want between 1m and %s", ttl, objstore.MaxPresignTTL)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	engine, engineName, langs, err := captionsEngine(cfg.Captions, log)
	if err != nil {
		return nil, err
	}
	r := &Runner{
		store: cfg.Store, ffmpegBin: ffmpeg, ffprobeBin: ffprobe,
		log: log, presignTTL: ttl, proxy: newInputProxy(),
		captions: engine, captionsName: engineName, captionsLangs: langs,
		pids: map[int]struct{}{},
	}
	if cfg.WorkDir == "" {
		// A directory of its own: several edges on one machine (a dev
		// fleet) must not clear each other's jobs.
		if r.workDir, err = os.MkdirTemp("", "livestreams-media-"); err != nil {
			return nil, fmt.Errorf("media runner: %w", err)
		}
		r.ownWorkDir = true
	} else {
		if r.workDir, err = filepath.Abs(cfg.WorkDir); err != nil {
			return nil, fmt.Errorf("media runner: work dir: %w", err)
		}
		if err := checkWorkDir(r.workDir); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(r.workDir, 0o755); err != nil {
			return nil, fmt.Errorf("media runner: %w", err)
		}
		r.removeLeftovers()
	}
	if err := checkWorkDir(r.workDir); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// checkWorkDir refuses a % in the work directory: ffmpeg's HLS and image
// muxers read it in output paths as part of a pattern.
func checkWorkDir(dir string) error {
	if strings.Contains(dir, "%") {
		return fmt.Errorf("media runner: work dir %q must not contain %%", dir)
	}
	return nil
}

// Close stops the loopback proxy ffmpeg reads sources through and removes
// the work directory NewRunner made (none when Config.WorkDir was set).
// Call it after every Run has returned.
func (r *Runner) Close() error {
	err := r.proxy.Close()
	if !r.ownWorkDir {
		return err
	}
	if rerr := os.RemoveAll(r.workDir); rerr != nil {
		return fmt.Errorf("media runner: %w", rerr)
	}
	return err
}

func findProgram(configured, name string) (string, error) {
	if configured == "" {
		configured = name
	}
	p, err := exec.LookPath(configured)
	if err != nil {
		return "", fmt.Errorf("media runner: %s: %w", name, err)
	}
	return p, nil
}

// removeLeftovers deletes the directories of jobs a crash interrupted.
func (r *Runner) removeLeftovers() {
	entries, err := os.ReadDir(r.workDir)
	if err != nil {
		r.log.Warn("read media work dir", "dir", r.workDir, "err", err)
		return
	}
	for _, e := range entries {
		if e.IsDir() && (strings.HasPrefix(e.Name(), "job-") || strings.HasPrefix(e.Name(), "thumb-")) {
			if err := os.RemoveAll(filepath.Join(r.workDir, e.Name())); err != nil {
				r.log.Warn("remove leftover media job dir", "dir", e.Name(), "err", err)
			}
		}
	}
}

// PIDs returns the process ids of the ffmpeg and ffprobe processes the
// Runner's jobs are running, for CPU accounting.
func (r *Runner) PIDs() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	pids := make([]int, 0, len(r.pids))
	for pid := range r.pids {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}

func (r *Runner) track(pid int) {
	r.mu.Lock()
	r.pids[pid] = struct{}{}
	r.mu.Unlock()
}

func (r *Runner) untrack(pid int) {
	r.mu.Lock()
	delete(r.pids, pid)
	r.mu.Unlock()
}

// jobRun is what one job (or one Thumbnail call) works with.
type jobRun struct {
	dir  string
	log  *slog.Logger // redacting
	red  *redactor
	prog *progress
}

// Run executes one leased job and returns what it made. progress (may be
// nil) gets the job's percentage, rising to 100, and ffmpeg's fps and
// speed, at most twice a second; it is called from ffmpeg's progress
// reader and must not block. When ctx is cancelled every process the
// job started is gone before Run returns ctx's error. A job with a
// TimeoutMS is stopped after it, with an error that is not permanent.
//
// Errors carry no presigned URL; IsPermanent tells those a retry cannot
// fix.
func (r *Runner) Run(ctx context.Context, job protocol.Job, progress func(protocol.JobProgress)) (protocol.MediaResult, error) {
	started := time.Now()
	jctx := ctx
	var timeout time.Duration
	if job.TimeoutMS > 0 {
		timeout = time.Duration(job.TimeoutMS) * time.Millisecond
		var cancel context.CancelFunc
		jctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	red := &redactor{}
	log := redactingLogger(r.log, red).With("job_id", job.ID, "job_type", job.Type, "attempt", job.Attempt)
	dir, err := os.MkdirTemp(r.workDir, "job-"+safeName(job.ID)+"-*")
	if err != nil {
		return protocol.MediaResult{}, fmt.Errorf("media job scratch dir: %w", err)
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			log.Warn("remove media job dir", "dir", dir, "err", err)
		}
	}()
	j := &jobRun{dir: dir, log: log, red: red, prog: newProgress(progress)}
	log.Info("media job started", "asset_id", job.AssetID)

	res, err := r.run(jctx, j, job, timeout)
	switch {
	case err == nil:
		j.prog.finish()
		log.Info("media job done", "duration", res.Duration, "renditions", len(res.Renditions),
			"took", time.Since(started).Round(time.Millisecond))
		return res, nil
	case ctx.Err() != nil:
		log.Info("media job cancelled", "took", time.Since(started).Round(time.Millisecond))
		return protocol.MediaResult{}, ctx.Err()
	case jctx.Err() != nil:
		err = fmt.Errorf("media job timed out after %s", timeout)
	}
	err = red.wrap(err)
	log.Warn("media job failed", "permanent", IsPermanent(err), "err", err,
		"took", time.Since(started).Round(time.Millisecond))
	return protocol.MediaResult{}, err
}

func (r *Runner) run(ctx context.Context, j *jobRun, job protocol.Job, timeout time.Duration) (protocol.MediaResult, error) {
	ttl := r.presignTTL
	if timeout > 0 {
		ttl = min(max(ttl, timeout+10*time.Minute), objstore.MaxPresignTTL)
	}
	switch job.Type {
	case protocol.JobVOD, protocol.JobRecordingVOD:
		var v protocol.VODJob
		if err := decodePayload(job, &v); err != nil {
			return protocol.MediaResult{}, err
		}
		if err := checkKeys(job.OrgID, v.SourceKey, v.Prefix); err != nil {
			return protocol.MediaResult{}, err
		}
		return r.vod(ctx, j, v, ttl)
	case protocol.JobClip:
		var c protocol.ClipJob
		if err := decodePayload(job, &c); err != nil {
			return protocol.MediaResult{}, err
		}
		if err := checkKeys(job.OrgID, c.SourceKey, c.Prefix); err != nil {
			return protocol.MediaResult{}, err
		}
		return r.clip(ctx, j, c, ttl)
	case protocol.JobCaptions:
		var c protocol.CaptionsJob
		if err := decodePayload(job, &c); err != nil {
			return protocol.MediaResult{}, err
		}
		if err := checkKeys(job.OrgID, c.SourceKey, c.Prefix); err != nil {
			return protocol.MediaResult{}, err
		}
		return r.captionsJob(ctx, j, c, ttl)
	}
	return protocol.MediaResult{}, permanent("job type %q is not a media job", job.Type)
}

func decodePayload(job protocol.Job, v any) error {
	if err := json.Unmarshal(job.Payload, v); err != nil {
		return permanent("bad %s job payload: %v", job.Type, err)
	}
	return nil
}

// checkKeys checks a payload's source key and asset prefix, and that both
// belong to the job's organization (when the job names one): a job must
// never read or write another organization's objects.
func checkKeys(orgID, sourceKey, prefix string) error {
	if err := objstore.ValidateKey(sourceKey); err != nil {
		return permanent("bad payload: source: %w", err)
	}
	if prefix == "" || !strings.HasSuffix(prefix, "/") {
		return permanent("bad payload: prefix %q must end in /", prefix)
	}
	if err := objstore.ValidatePrefix(prefix); err != nil {
		return permanent("bad payload: %w", err)
	}
	if orgID == "" {
		return nil
	}
	org, err := objstore.OrgPrefix(orgID)
	if err != nil {
		return permanent("bad job: %w", err)
	}
	for _, k := range []string{sourceKey, prefix} {
		if !strings.HasPrefix(k, org) {
			return permanent("bad payload: %s is not under the organization's %s", k, org)
		}
	}
	return nil
}

// safeName keeps the characters of a job id that are safe in a directory
// name, at most 40 of them.
func safeName(id string) string {
	var b strings.Builder
	for _, c := range id {
		if b.Len() >= 40 {
			break
		}
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// ffmpegRun describes one ffmpeg run of a job.
type ffmpegRun struct {
	args []string
	// timeout bounds the run (0: only ctx does).
	timeout time.Duration
	// stall stops a run that reports no progress for this long; it needs
	// -progress in args (0: no watchdog).
	stall      time.Duration
	onProgress func(transcode.Progress)
}

// runFFmpeg runs ffmpeg to the end. When ctx is done it stops ffmpeg (its
// whole process group, within cancelGrace) and returns ctx's error once
// the process is reaped.
func (r *Runner) runFFmpeg(ctx context.Context, j *jobRun, run ffmpegRun) error {
	rctx, cancel := ctx, context.CancelFunc(func() {})
	if run.timeout > 0 {
		rctx, cancel = context.WithTimeout(ctx, run.timeout)
	}
	defer cancel()
	var lastReport atomic.Int64
	lastReport.Store(time.Now().UnixNano())
	p, err := transcode.Start(rctx, transcode.ProcessConfig{
		Binary: r.ffmpegBin, Args: run.args, Logger: j.log, StderrLines: 50, Nice: Nice,
		OnProgress: func(pr transcode.Progress) {
			lastReport.Store(time.Now().UnixNano())
			if run.onProgress != nil {
				run.onProgress(pr)
			}
		},
	})
	if err != nil {
		return err
	}
	pid := p.PID()
	r.track(pid)
	defer r.untrack(pid)

	var tick <-chan time.Time
	if run.stall > 0 {
		t := time.NewTicker(min(run.stall/4, 5*time.Second))
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-p.Done():
			err := p.Wait()
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case rctx.Err() != nil:
				return fmt.Errorf("ffmpeg did not finish within %s", run.timeout)
			case err != nil:
				return ffmpegError(err, p.StderrTail(), j.red)
			}
			return nil
		case <-rctx.Done():
			_ = p.Stop(cancelGrace) // its error is the cancellation
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("ffmpeg did not finish within %s", run.timeout)
		case <-tick:
			if idle := time.Since(time.Unix(0, lastReport.Load())); idle > run.stall {
				_ = p.Stop(cancelGrace)
				return ffmpegError(fmt.Errorf("no progress for %s, stopped", idle.Round(time.Second)), p.StderrTail(), j.red)
			}
		}
	}
}

// stderrLinesInErrors is how many of ffmpeg's last stderr lines an error
// carries: enough for the reason, short enough for a job's status.
const stderrLinesInErrors = 3

func ffmpegError(err error, tail []string, red *redactor) error {
	if len(tail) > stderrLinesInErrors {
		tail = tail[len(tail)-stderrLinesInErrors:]
	}
	if len(tail) == 0 {
		return err
	}
	return fmt.Errorf("%w: %s", err, red.redact(strings.Join(tail, " | ")))
}

// httpInputOptions make ffmpeg ride out a dropped connection to object
// storage and give up on one that hangs.
var httpInputOptions = []string{
	"-rw_timeout", rwTimeout,
	"-reconnect", "1", "-reconnect_on_network_error", "1", "-reconnect_delay_max", "10",
}

// withInputOptions inserts opts in front of "-i input" in args (from
// transcode.Build, which has no input options of its own).
func withInputOptions(args []string, input string, opts []string) ([]string, error) {
	at := -1
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-i" && args[i+1] == input {
			if at >= 0 {
				return nil, errors.New("input options: the input appears twice")
			}
			at = i
		}
	}
	if at < 0 {
		return nil, errors.New("input options: no -i with the input")
	}
	out := make([]string, 0, len(args)+len(opts))
	out = append(out, args[:at]...)
	out = append(out, opts...)
	return append(out, args[at:]...), nil
}
