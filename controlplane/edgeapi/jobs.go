package edgeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/jobs"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
)

// Bounds of the job messages.
const (
	maxLeasePerCall = 8
	maxWatchWait    = 20 * time.Second
	watchPoll       = 100 * time.Millisecond
)

// edgeJobTypes are the job types an edge may lease today.
var edgeJobTypes = []string{protocol.JobVOD, protocol.JobRecordingVOD, protocol.JobClip, protocol.JobCaptions, protocol.JobRestream}

func (s *Service) jobService() (*jobs.Service, error) {
	if s.cfg.Jobs == nil {
		return nil, &protocol.Error{Code: protocol.CodeUnavailable, Message: "this control-plane node runs no job queue"}
	}
	return s.cfg.Jobs, nil
}

// protoErr maps a state error to the protocol's codes so the edge can tell
// "not yours any more" (drop the job) from "try again".
func protoErr(err error) error {
	var se *state.Error
	if errors.As(err, &se) {
		switch se.Code {
		case state.CodeNotFound:
			return &protocol.Error{Code: protocol.CodeNotFound, Message: se.Message}
		case state.CodeConflict:
			return &protocol.Error{Code: protocol.CodeConflict, Message: se.Message}
		case state.CodeInvalid:
			return &protocol.Error{Code: protocol.CodeInvalid, Message: se.Message}
		}
	}
	return err
}

func (s *Service) leaseJobs(ctx context.Context, peer protocol.Peer, r protocol.LeaseJobsRequest) (any, error) {
	js, err := s.jobService()
	if err != nil {
		return nil, err
	}
	reply := protocol.LeaseJobsReply{Jobs: []protocol.Job{}, LeaseTTLMS: js.LeaseTTL().Milliseconds()}
	var types []string
	for _, t := range r.Types {
		if slices.Contains(edgeJobTypes, t) && !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	if len(types) == 0 || r.Max < 1 {
		return reply, nil
	}
	// A draining edge finishes what it runs and takes nothing new.
	var edge state.Edge
	if s.view(func(tx *state.Tx) error { var err error; edge, err = tx.Edge(peer.Hello.NodeID); return err }) == nil && edge.Draining {
		return reply, nil
	}
	leased, err := js.Lease(ctx, peer.Hello.NodeID, types, peer.Hello.Region, min(r.Max, maxLeasePerCall))
	if err != nil {
		return nil, protoErr(err)
	}
	for _, j := range leased {
		reply.Jobs = append(reply.Jobs, protocol.Job{ID: j.ID, Type: j.Type, OrgID: j.OrgID, AssetID: j.AssetID,
			Attempt: j.Attempts, Payload: j.Payload, TimeoutMS: j.Timeout.Milliseconds()})
		s.log.Info("job leased", "edge_id", peer.Hello.NodeID, "job_id", j.ID, "type", j.Type, "attempt", j.Attempts)
	}
	return reply, nil
}

func (s *Service) renewJobs(ctx context.Context, peer protocol.Peer, r protocol.RenewJobsRequest) (any, error) {
	js, err := s.jobService()
	if err != nil {
		return nil, err
	}
	if len(r.Jobs) > fsm.MaxRenewBatch {
		return nil, &protocol.Error{Code: protocol.CodeInvalid, Message: fmt.Sprintf("renew at most %d jobs at once", fsm.MaxRenewBatch)}
	}
	reports := make([]fsm.JobReport, 0, len(r.Jobs))
	for _, j := range r.Jobs {
		rep := fsm.JobReport{ID: j.ID}
		if p := j.Progress; p != nil {
			rep.Progress = &state.Progress{Percent: p.Percent, FPS: max(p.FPS, 0), Speed: max(p.Speed, 0)}
		}
		reports = append(reports, rep)
	}
	res, err := js.Renew(ctx, peer.Hello.NodeID, reports)
	if err != nil {
		return nil, protoErr(err)
	}
	return protocol.RenewJobsReply{Renewed: res.Renewed, Cancelled: res.Cancelled, Lost: res.Lost,
		LeaseTTLMS: js.LeaseTTL().Milliseconds()}, nil
}

// watchJobs answers as soon as one of the jobs must stop, reading this
// node's copy of the state (a cancel applied through Raft shows up here
// within a heartbeat of the leader), or when the wait ends.
func (s *Service) watchJobs(ctx context.Context, peer protocol.Peer, r protocol.WatchJobsRequest) (any, error) {
	if len(r.IDs) > fsm.MaxRenewBatch {
		return nil, &protocol.Error{Code: protocol.CodeInvalid, Message: fmt.Sprintf("watch at most %d jobs at once", fsm.MaxRenewBatch)}
	}
	wait := min(max(time.Duration(r.WaitMS)*time.Millisecond, 0), maxWatchWait)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(watchPoll)
	defer tick.Stop()
	for {
		stop := s.jobsToStop(peer.Hello.NodeID, r.IDs)
		if len(stop) > 0 {
			return protocol.WatchJobsReply{Stop: stop}, nil
		}
		select {
		case <-ctx.Done():
			return protocol.WatchJobsReply{Stop: []string{}}, nil
		case <-deadline.C:
			return protocol.WatchJobsReply{Stop: []string{}}, nil
		case <-tick.C:
		}
	}
}

func (s *Service) jobsToStop(edgeID string, jobIDs []string) []string {
	var stop []string
	s.view(func(tx *state.Tx) error {
		for _, id := range jobIDs {
			j, err := tx.Job(id)
			if state.IsNotFound(err) || err == nil && (!j.Active() || j.LeaseHolder != edgeID || j.CancelRequested) {
				stop = append(stop, id)
			}
		}
		return nil
	})
	return stop
}

func (s *Service) finishJob(ctx context.Context, peer protocol.Peer, r protocol.FinishJobRequest) (any, error) {
	js, err := s.jobService()
	if err != nil {
		return nil, err
	}
	edgeID := peer.Hello.NodeID
	if !r.Succeeded {
		j, err := js.Fail(ctx, edgeID, r.ID, jobs.Failure{Message: r.Error, Permanent: r.Permanent})
		if err != nil {
			return nil, protoErr(err)
		}
		s.log.Info("job attempt failed", "edge_id", edgeID, "job_id", j.ID, "state", j.State, "err", r.Error)
		return struct{}{}, nil
	}
	var result json.RawMessage
	if r.Result != nil {
		if result, err = json.Marshal(r.Result); err != nil {
			return nil, err
		}
	}
	j, err := js.Complete(ctx, edgeID, r.ID, result)
	if err != nil {
		return nil, protoErr(err)
	}
	if j.AssetID != "" && r.Result != nil && j.Type != state.JobCaptions {
		// A repeated finish (after a lost answer) repeats this too, which
		// set_asset_ready allows.
		media := assetMedia(*r.Result)
		_, err := s.cfg.Node.Apply(ctx, fsm.CmdSetAssetReady, fsm.SetAssetReady{ID: j.AssetID, Media: media, At: s.cfg.Now().UTC()})
		if err != nil && !state.IsNotFound(err) {
			return nil, fmt.Errorf("make asset %s ready: %w", j.AssetID, err)
		}
	}
	s.log.Info("job succeeded", "edge_id", edgeID, "job_id", j.ID, "asset_id", j.AssetID)
	if j.Type == state.JobRecordingVOD && j.AssetID != "" {
		s.autoCaptions(ctx, js, j, peer.Hello.Region)
	}
	return struct{}{}, nil
}

// autoCaptions queues the captions job of a recording that just became
// ready when its stream asks for captions. A repeated finish finds the
// job queued the first time; a failure to queue is logged, not returned:
// the recording is ready either way, and captions can be asked for on
// demand.
func (s *Service) autoCaptions(ctx context.Context, js *jobs.Service, j state.Job, region string) {
	var a state.Asset
	var st state.Stream
	if err := s.view(func(tx *state.Tx) error {
		var err error
		if a, err = tx.Asset(j.AssetID); err != nil {
			return err
		}
		st, err = tx.Stream(a.StreamID)
		return err
	}); err != nil || !st.AutoCaptions || st.CaptionsLanguage == "" {
		return
	}
	// The finish just made it ready through Raft; this node's copy may
	// not show it yet.
	a.Status = state.AssetReady
	c, created, err := js.Captions(ctx, a, st.CaptionsLanguage, region, false)
	switch {
	case created:
		s.log.Info("captions queued", "asset_id", a.ID, "stream_id", st.ID, "language", st.CaptionsLanguage, "job_id", c.ID)
	case err != nil && !state.IsConflict(err):
		s.log.Warn("queue captions", "asset_id", a.ID, "stream_id", st.ID, "language", st.CaptionsLanguage, "err", err)
	}
}

// assetMedia turns a job's result into the asset fields it sets.
func assetMedia(r protocol.MediaResult) fsm.AssetMedia {
	var m fsm.AssetMedia
	if r.Duration > 0 {
		m.Duration = &r.Duration
	}
	if r.Size > 0 {
		m.Size = &r.Size
	}
	if r.SHA256 != "" {
		m.SHA256 = &r.SHA256
	}
	if r.SourceKey != "" {
		m.SourceKey = &r.SourceKey
	}
	if r.Thumbnail != "" {
		m.Thumbnail = &r.Thumbnail
	}
	if r.Storyboard != nil {
		m.Storyboard = &state.Storyboard{Image: r.Storyboard.Image, VTT: r.Storyboard.VTT}
	}
	if len(r.Tracks) > 0 {
		tracks := make([]state.Track, 0, len(r.Tracks))
		for _, t := range r.Tracks {
			tracks = append(tracks, state.Track{Type: t.Type, Codec: t.Codec, Width: t.Width, Height: t.Height, FPS: t.FPS,
				Channels: t.Channels, SampleRate: t.SampleRate})
		}
		m.Tracks = &tracks
	}
	if len(r.Renditions) > 0 {
		rs := make([]state.Rendition, 0, len(r.Renditions))
		for _, x := range r.Renditions {
			rs = append(rs, state.Rendition{Name: x.Name, Width: x.Width, Height: x.Height, Bandwidth: x.Bandwidth})
		}
		m.Renditions = &rs
	}
	return m
}

// recordingUploaded registers a session's recording once the edge's upload
// queue has it confirmed in object storage: it creates the recording asset
// (id derived from the session, so a repeat finds it) and queues the job
// that makes its VOD ladder, thumbnail and storyboard. A recording of a
// stream deleted since is still kept, as an asset of no stream.
func (s *Service) recordingUploaded(ctx context.Context, peer protocol.Peer, r protocol.RecordingUploaded) (any, error) {
	js, err := s.jobService()
	if err != nil {
		return nil, err
	}
	var sess state.Session
	var st state.Stream
	var haveStream bool
	if err := s.view(func(tx *state.Tx) error {
		var err error
		if sess, err = tx.Session(r.SessionID); err != nil {
			return err
		}
		st, err = tx.Stream(sess.StreamID)
		haveStream = err == nil
		return nil
	}); err != nil || sess.OrgID != r.OrgID {
		return nil, &protocol.Error{Code: protocol.CodeNotFound, Message: "no such session"}
	}
	assetID := protocol.RecordingAssetID(sess.ID)
	prefix, err := objstore.AssetPrefix(sess.OrgID, assetID)
	if err != nil {
		return nil, &protocol.Error{Code: protocol.CodeInvalid, Message: err.Error()}
	}
	if want := prefix + objstore.SourceFile; r.Key != want {
		return nil, &protocol.Error{Code: protocol.CodeInvalid, Message: fmt.Sprintf("recording key %q: want %q", r.Key, want)}
	}
	a := state.Asset{ID: assetID, OrgID: sess.OrgID, Type: state.AssetRecording, SessionID: sess.ID,
		PlaybackID: ids.PlaybackID(), PlaybackPolicy: state.PolicyPublic, Size: r.Size, SHA256: strings.ToLower(r.SHA256),
		ObjectPrefix: prefix, SourceKey: r.Key, CreatedAt: s.cfg.Now().UTC()}
	if haveStream {
		a.StreamID, a.PlaybackPolicy = st.ID, st.PlaybackPolicy
	}
	if _, err := s.cfg.Node.Apply(ctx, fsm.CmdCreateAsset, fsm.CreateAsset{Asset: a}); err != nil && !state.IsConflict(err) {
		return nil, protoErr(fmt.Errorf("register recording asset: %w", err))
	}
	live, err := liveRenditions(r.Renditions, prefix)
	if err != nil {
		return nil, &protocol.Error{Code: protocol.CodeInvalid, Message: err.Error()}
	}
	payload, err := json.Marshal(protocol.VODJob{SourceKey: r.Key, Prefix: prefix, Live: live})
	if err != nil {
		return nil, err
	}
	jobID := jobs.AssetJobID(assetID)
	j := state.Job{ID: jobID, OrgID: sess.OrgID, Type: state.JobRecordingVOD, Payload: payload, AssetID: assetID,
		StreamID: a.StreamID, SessionID: sess.ID, Region: peer.Hello.Region}
	// A repeated registration finds the job the first one queued.
	if _, err := js.Enqueue(ctx, j); err != nil && !state.IsConflict(err) {
		return nil, protoErr(err)
	}
	s.log.Info("recording registered", "edge_id", peer.Hello.NodeID, "session_id", sess.ID, "asset_id", assetID, "job_id", jobID,
		"bytes", r.Size, "from_live", live != nil)
	return protocol.RecordingUploadedReply{AssetID: assetID, JobID: jobID}, nil
}

// liveRenditions checks the live renditions a registration brings: their
// playlist must be the asset's own (prefix+"hls/master.m3u8"), every
// rendition named as a directory under it. Nil stays nil: the job
// transcodes.
func liveRenditions(l *protocol.LiveRenditions, prefix string) (*protocol.LiveRenditions, error) {
	if l == nil {
		return nil, nil
	}
	if want := prefix + objstore.HLSDir + "/master.m3u8"; l.Playlist != want {
		return nil, fmt.Errorf("live renditions playlist %q: want %q", l.Playlist, want)
	}
	if len(l.Renditions) == 0 || len(l.Renditions) > 16 {
		return nil, fmt.Errorf("live renditions: %d listed, want 1 to 16", len(l.Renditions))
	}
	for _, x := range l.Renditions {
		if x.Name == "" || len(x.Name) > 32 || strings.ContainsAny(x.Name, "/\\.") || x.Bandwidth <= 0 {
			return nil, fmt.Errorf("live rendition %q (bandwidth %d): want a plain name and a bandwidth", x.Name, x.Bandwidth)
		}
	}
	if l.Duration <= 0 || l.Duration > 7*24*3600 {
		return nil, fmt.Errorf("live renditions duration %v: want positive seconds", l.Duration)
	}
	return l, nil
}
