// Package directupload finishes what POST /v1/uploads starts. The API creates an
// upload asset, preparing, and hands the client a presigned PUT URL for the
// asset's source key; the client sends the file straight to object storage,
// which tells the control plane nothing. The Watcher notices: for each
// preparing upload with no job yet it looks for the source object, queues
// the VOD job that turns it into an HLS ladder once it is there, refuses a
// file over the size limit, gives up on an upload whose URL expired
// with nothing sent, and deletes a file that lands on an upload already
// refused (a late second PUT) for as long as its URL could still be used.
//
// It does not receive or proxy uploads, presign URLs (the API does) or run
// jobs (edges do); it only turns "the object exists" into a queued job.
package directupload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
)

// Defaults of Limits.
const (
	DefaultMaxBytes = 10 << 30
	DefaultURLTTL   = time.Hour
	// ExpiryGrace is how long after its URL expires an upload is given up
	// on: a PUT that started just before the expiry may still be landing.
	ExpiryGrace = time.Minute
	// LateLanding is how long after its URL expires a refused upload is
	// still watched for a late PUT (the URL is write-once, but once a
	// refused file is deleted the key is free again): a PUT accepted
	// before the expiry may take this long to land.
	LateLanding = 15 * time.Minute
)

// Bounds of one pass, so a large asset table or a slow object store costs
// a bounded amount per interval; what a pass does not reach, the next
// continues from.
const (
	// DefaultScanBudget is how many asset records one pass reads.
	DefaultScanBudget = 2000
	// maxChecks is how many candidate uploads one pass checks in object
	// storage.
	maxChecks = 100
	// scanPage is how many asset records one read takes.
	scanPage = 100
	// opTimeout bounds each object-store call and Raft write.
	opTimeout = 5 * time.Second
)

// Limits bound VOD uploads. The API presigns upload URLs for URLTTL and
// refuses declared sizes over MaxBytes; the Watcher judges expiries and
// sizes by the same. The server gives one value to both.
type Limits struct {
	// MaxBytes is the largest upload accepted (DefaultMaxBytes when zero).
	MaxBytes int64
	// URLTTL is how long an upload URL lasts (DefaultURLTTL when zero).
	URLTTL time.Duration
}

// OrDefaults returns l with the defaults in place of zero (or negative)
// fields.
func (l Limits) OrDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.URLTTL <= 0 {
		l.URLTTL = DefaultURLTTL
	}
	return l
}

// Config configures a Watcher.
type Config struct {
	// Node is this control-plane node: the Watcher reads its state and acts
	// only while it leads.
	Node jobs.Node
	Jobs *jobs.Service
	// Store holds the uploaded sources.
	Store objstore.Store
	// Interval between passes; one second by default.
	Interval time.Duration
	// Limits are the API's: an upload with no file ExpiryGrace after its
	// URL expired is errored, one over MaxBytes refused.
	Limits Limits
	// ScanBudget is how many asset records one pass reads
	// (DefaultScanBudget when zero).
	ScanBudget int
	// Clock gives the time expiries are judged at; time.Now by default.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Watcher queues the VOD job of each upload once its file has landed.
//
// There is no index of assets by status, so it walks every org's assets,
// newest first, ScanBudget records a pass, resuming where the last pass
// stopped. An install with fewer assets than the budget sees every upload
// each pass; a larger one sees each within (assets / budget) passes. An
// index of preparing uploads in the state package would make this
// constant-time.
type Watcher struct {
	cfg Config
	log *slog.Logger

	// Where the walk resumes: an org and the cursor within its assets
	// ("" for its newest). Only Run's goroutine touches them.
	org, after string
}

// NewWatcher returns a Watcher; Run starts it.
func NewWatcher(cfg Config) (*Watcher, error) {
	if cfg.Node == nil || cfg.Jobs == nil || cfg.Store == nil {
		return nil, errors.New("uploads: a node, a job service and an object store are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	cfg.Limits = cfg.Limits.OrDefaults()
	if cfg.ScanBudget <= 0 {
		cfg.ScanBudget = DefaultScanBudget
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{cfg: cfg, log: cfg.Logger.With("component", "uploads")}, nil
}

// Run makes a pass every interval until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := w.Check(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("check uploads", "err", err)
		}
	}
}

// Result counts what one pass did.
type Result struct {
	Checked  int // uploads looked for in object storage
	Queued   int // VOD jobs queued
	TooLarge int // uploads refused for their size
	Expired  int // uploads given up on: no file before the URL expired
	Removed  int // files deleted that landed on an errored upload
}

// Check makes one pass, if this node leads. A failure with one upload is
// logged and the pass goes on; the error is for reading the state.
func (w *Watcher) Check(ctx context.Context) (Result, error) {
	var res Result
	if !w.cfg.Node.IsLeader() {
		return res, nil
	}
	var cands []state.Asset
	now := w.cfg.Clock().UTC()
	err := w.cfg.Node.Store().View(func(tx *state.Tx) error {
		var err error
		cands, err = w.scan(tx, now)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("scan uploads: %w", err)
	}
	for _, a := range cands {
		if ctx.Err() != nil {
			return res, nil
		}
		res.Checked++
		if a.Status == state.AssetErrored {
			w.sweep(ctx, a, &res)
			continue
		}
		w.check(ctx, a, &res)
	}
	return res, nil
}

// scan reads up to about ScanBudget asset records, from where the last
// pass stopped, and returns the preparing uploads with no job among them
// and the errored uploads whose URL may still be used (about maxChecks at
// most). It goes round the orgs at most once.
func (w *Watcher) scan(tx *state.Tx, now time.Time) ([]state.Asset, error) {
	orgs, err := tx.Orgs() // in id order
	if err != nil || len(orgs) == 0 {
		return nil, err
	}
	cur := sort.Search(len(orgs), func(i int) bool { return orgs[i].ID >= w.org })
	if cur == len(orgs) {
		cur = 0
	}
	if orgs[cur].ID != w.org {
		w.after = "" // the org was deleted: start the next one from its newest
	}
	w.org = orgs[cur].ID
	var out []state.Asset
	for read, done := 0, 0; done < len(orgs) && read < w.cfg.ScanBudget && len(out) < maxChecks; {
		page, next, err := tx.Assets(w.org, w.after, scanPage, nil)
		if err != nil {
			return nil, err
		}
		read += len(page)
		for _, a := range page {
			if a.Type != state.AssetUpload {
				continue
			}
			if a.Status == state.AssetErrored && now.Before(a.CreatedAt.Add(w.cfg.Limits.URLTTL+LateLanding)) {
				out = append(out, a)
				continue
			}
			if a.Status != state.AssetPreparing {
				continue
			}
			js, err := tx.JobsOfAsset(a.ID)
			if err != nil {
				return nil, err
			}
			if len(js) == 0 {
				out = append(out, a)
			}
		}
		w.after = next
		if next == "" {
			done++
			cur = (cur + 1) % len(orgs)
			w.org = orgs[cur].ID
		}
	}
	return out, nil
}

// check acts on one preparing upload with no job.
func (w *Watcher) check(ctx context.Context, a state.Asset, res *Result) {
	log := w.log.With("asset_id", a.ID, "org_id", a.OrgID)
	if a.SourceKey == "" || a.ObjectPrefix == "" {
		log.Warn("upload asset has no source key or prefix: skipped")
		return
	}
	sctx, cancel := context.WithTimeout(ctx, opTimeout)
	info, err := w.cfg.Store.Stat(sctx, a.SourceKey)
	cancel()
	now := w.cfg.Clock().UTC()
	switch {
	case errors.Is(err, objstore.ErrNotFound):
		if now.Before(a.CreatedAt.Add(w.cfg.Limits.URLTTL + ExpiryGrace)) {
			return // still time to upload
		}
		if w.errored(ctx, a, "no file was uploaded before the upload URL expired", now) {
			log.Info("upload expired with no file")
			res.Expired++
		}
		return
	case err != nil:
		log.Warn("look for the uploaded file", "err", err)
		return
	}
	if info.Size > w.cfg.Limits.MaxBytes {
		// The file goes first: once the asset is errored nobody looks at
		// it again, and a file left behind would be paid for forever.
		dctx, cancel := context.WithTimeout(ctx, opTimeout)
		err := w.cfg.Store.DeletePrefix(dctx, a.ObjectPrefix)
		cancel()
		if err != nil {
			log.Warn("delete an upload over the size limit", "bytes", info.Size, "err", err)
			return
		}
		msg := fmt.Sprintf("file is %s, over the %s upload limit", FormatSize(info.Size), FormatSize(w.cfg.Limits.MaxBytes))
		if w.errored(ctx, a, msg, now) {
			log.Info("upload refused: over the size limit", "bytes", info.Size, "max_bytes", w.cfg.Limits.MaxBytes)
			res.TooLarge++
		}
		return
	}
	payload, err := json.Marshal(protocol.VODJob{SourceKey: a.SourceKey, Prefix: a.ObjectPrefix,
		MaxSourceBytes: w.cfg.Limits.MaxBytes, DeleteRejected: true})
	if err != nil {
		log.Error("encode vod job", "err", err)
		return
	}
	// The job id is derived from the asset's, so a pass that repeats this
	// after an error of unknown outcome finds the job it made.
	j := state.Job{ID: jobs.AssetJobID(a.ID), OrgID: a.OrgID, Type: state.JobVOD, Payload: payload, AssetID: a.ID, StreamID: a.StreamID}
	actx, cancel := context.WithTimeout(ctx, opTimeout)
	_, err = w.cfg.Jobs.Enqueue(actx, j)
	cancel()
	switch {
	case err == nil, state.IsConflict(err):
		log.Info("upload landed: vod job queued", "job_id", j.ID, "bytes", info.Size)
		res.Queued++
	case state.IsNotFound(err):
		log.Debug("upload asset deleted before its job was queued")
	default:
		log.Warn("queue the vod job of an upload", "job_id", j.ID, "err", err)
	}
}

// sweep deletes what landed on an errored upload: its source was refused
// (and deleted) or never came in time, so a file there now is a late PUT
// of its URL, which nothing will ever look at.
func (w *Watcher) sweep(ctx context.Context, a state.Asset, res *Result) {
	if a.SourceKey == "" {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	info, err := w.cfg.Store.Stat(sctx, a.SourceKey)
	if errors.Is(err, objstore.ErrNotFound) {
		return
	}
	log := w.log.With("asset_id", a.ID, "org_id", a.OrgID)
	if err != nil {
		log.Warn("look for a late upload", "err", err)
		return
	}
	if err := w.cfg.Store.Delete(sctx, a.SourceKey); err != nil {
		log.Warn("delete a late upload", "err", err)
		return
	}
	log.Info("deleted a file uploaded to a refused upload", "bytes", info.Size)
	res.Removed++
}

// errored marks an upload failed; a not-found (deleted meanwhile) or
// conflict (made ready meanwhile) answer is not a failure.
func (w *Watcher) errored(ctx context.Context, a state.Asset, msg string, now time.Time) bool {
	actx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := w.cfg.Node.ApplyInto(actx, fsm.CmdSetAssetErrored, fsm.SetAssetErrored{OrgID: a.OrgID, ID: a.ID, Error: msg, At: now}, nil)
	if err != nil && !state.IsNotFound(err) && !state.IsConflict(err) {
		w.log.Warn("mark an upload errored", "asset_id", a.ID, "err", err)
		return false
	}
	return err == nil
}

// FormatSize renders a byte count for people: "812 KiB", "12.3 GiB".
func FormatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, exp := float64(n)/unit, 0
	for v >= unit && exp < 4 {
		v /= unit
		exp++
	}
	s := fmt.Sprintf("%.1f", v)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + []string{"KiB", "MiB", "GiB", "TiB", "PiB"}[exp]
}
