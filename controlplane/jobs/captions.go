package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/protocol"
	"github.com/livestreams/livestreams/shared/objstore"
)

// maxCaptionsGenerations bounds how many times one asset is captioned in
// one language: each new run (after a failure, or to redo it with a better
// engine) is a new job, its id the next generation's.
const maxCaptionsGenerations = 100

// CaptionsJobID is the id of the gen-th captions job (from 0) of an asset
// in lang: derived, so that the automatic job of a recording registered
// twice, or a request repeated after an answer was lost, finds the job
// queued the first time.
func CaptionsJobID(assetID, lang string, gen int) string {
	from := assetID + "/captions/" + lang
	if gen > 0 {
		from += "/" + strconv.Itoa(gen)
	}
	return ids.Derive("job", from)
}

// CaptionsJobs returns the captions jobs of an asset (read in tx), the
// latest of each language, keyed by language.
func CaptionsJobs(tx *state.Tx, assetID string) (map[string]state.Job, error) {
	js, err := tx.JobsOfAsset(assetID)
	if err != nil {
		return nil, err
	}
	latest := map[string]state.Job{}
	for _, j := range js {
		if j.Type != state.JobCaptions {
			continue
		}
		var p protocol.CaptionsJob
		if json.Unmarshal(j.Payload, &p) != nil || p.Language == "" {
			continue
		}
		if cur, ok := latest[p.Language]; !ok || j.CreatedAt.After(cur.CreatedAt) ||
			j.CreatedAt.Equal(cur.CreatedAt) && j.ID > cur.ID {
			latest[p.Language] = j
		}
	}
	return latest, nil
}

// Captions queues a captions job for a ready asset in lang. The first
// request of a language takes generation 0 (so the automatic request of a
// recording, repeated, finds the job it queued). When again is set and
// the language's latest job has ended, the next generation is queued; a
// job still queued or running is returned with a conflict error (and
// created false) whatever again says, as is, without again, one that
// ended.
func (s *Service) Captions(ctx context.Context, a state.Asset, lang string, region string, again bool) (j state.Job, created bool, err error) {
	if err := objstore.CheckLanguage(lang); err != nil {
		return state.Job{}, false, state.Invalid("language %q must be a tag such as en or pt-BR", lang)
	}
	if a.Status != state.AssetReady {
		return state.Job{}, false, state.Conflict("asset %s is not ready (%s): only a ready asset can be captioned", a.ID, a.Status)
	}
	if a.SourceKey == "" || a.ObjectPrefix == "" {
		return state.Job{}, false, state.Conflict("asset %s has no source file to transcribe", a.ID)
	}
	gen := 0
	var prev *state.Job
	err = s.node.Store().View(func(tx *state.Tx) error {
		for ; gen < maxCaptionsGenerations; gen++ {
			j, err := tx.Job(CaptionsJobID(a.ID, lang, gen))
			if state.IsNotFound(err) {
				return nil
			} else if err != nil {
				return err
			}
			prev = &j
		}
		return nil
	})
	if err != nil {
		return state.Job{}, false, err
	}
	if prev != nil {
		switch {
		case !prev.Terminal():
			return *prev, false, state.Conflict("captions in %s for asset %s are already %s (job %s)", lang, a.ID, prev.State, prev.ID)
		case !again:
			return *prev, false, state.Conflict("asset %s already has a captions job in %s (job %s, %s)", a.ID, lang, prev.ID, prev.State)
		case gen >= maxCaptionsGenerations:
			return *prev, false, state.Conflict("asset %s was captioned in %s %d times; no more", a.ID, lang, maxCaptionsGenerations)
		}
	}
	payload, err := json.Marshal(protocol.CaptionsJob{SourceKey: a.SourceKey, Prefix: a.ObjectPrefix, Language: lang})
	if err != nil {
		return state.Job{}, false, err
	}
	j = state.Job{ID: CaptionsJobID(a.ID, lang, gen), OrgID: a.OrgID, Type: state.JobCaptions, Payload: payload,
		AssetID: a.ID, StreamID: a.StreamID, SessionID: a.SessionID, Region: region}
	out, err := s.Enqueue(ctx, j)
	if state.IsConflict(err) {
		// Queued meanwhile (a repeat racing this one): report that job.
		if cur, gerr := s.Get(a.OrgID, j.ID); gerr == nil {
			return cur, false, fmt.Errorf("enqueue captions job: %w", err)
		}
	}
	if err != nil {
		return state.Job{}, false, err
	}
	return out, true, nil
}
