package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/controlplane/streamkey"
	"github.com/livestreams/livestreams/protocol"
)

// streamRow is a stream with its current session, read in one transaction
// and rendered outside it (the directory reads state on its own).
type streamRow struct {
	s   state.Stream
	cur *state.Session
}

func loadRow(tx *state.Tx, s state.Stream) (streamRow, error) {
	row := streamRow{s: s}
	if s.CurrentSessionID == "" {
		return row, nil
	}
	sess, err := tx.Session(s.CurrentSessionID)
	if state.IsNotFound(err) {
		return row, nil
	} else if err != nil {
		return row, err
	}
	row.cur = &sess
	return row, nil
}

// orgStream reads a stream of the caller's org; other orgs' streams are
// not found.
func orgStream(tx *state.Tx, orgID, id string) (state.Stream, error) {
	s, err := tx.Stream(id)
	if err != nil || s.OrgID != orgID {
		return state.Stream{}, notFound("stream %s not found", id)
	}
	return s, nil
}

func (h *Handler) renderStream(r *http.Request, row streamRow) streamView {
	s := row.s
	v := streamView{ID: s.ID, OrgID: s.OrgID, Name: s.Name, PlaybackID: s.PlaybackID,
		PlaybackPolicy: s.PlaybackPolicy, Recording: s.Recording, LatencyMode: s.LatencyMode, DVRWindow: s.DVRWindow, Disabled: s.Disabled,
		AutoCaptions: s.AutoCaptions, CaptionsLanguage: s.CaptionsLanguage, SRTPassphraseSet: s.SRTPassphraseSealed != "",
		Status: state.StreamIdle, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
		PlaybackURL: h.publicBase(r) + "/v1/play/" + url.PathEscape(s.PlaybackID) + ".m3u8"}
	if s.CurrentSessionID != "" {
		v.Status = state.StreamActive
	}
	if row.cur != nil {
		sv := viewSession(*row.cur)
		v.CurrentSession = &sv
	}
	if h.cfg.Directory != nil {
		if rt, err := h.cfg.Directory.Ingest(r.Context(), clientIP(r.Context()), protocol.IngestRTMP); err == nil {
			v.IngestURL = rt.RTMP
		}
	}
	return v
}

// publicBase is the base URL clients reach this API by.
func (h *Handler) publicBase(r *http.Request) string {
	if h.cfg.PublicURL != "" {
		return strings.TrimRight(h.cfg.PublicURL, "/")
	}
	return h.scheme(r) + "://" + r.Host
}

func (h *Handler) streamSecret(tx *state.Tx) ([]byte, error) {
	m, ok, err := tx.Meta()
	if err != nil {
		return nil, err
	}
	if !ok || len(m.StreamKeySecret) == 0 {
		return nil, errorf(codeUnavailable, "the cluster is not initialized yet")
	}
	return m.StreamKeySecret, nil
}

func (h *Handler) listStreams(w http.ResponseWriter, r *http.Request) {
	orgID := caller(r.Context()).orgID
	var rows []streamRow
	err := h.view(func(tx *state.Tx) error {
		streams, err := tx.Streams(orgID)
		if err != nil {
			return err
		}
		for _, s := range streams {
			row, err := loadRow(tx, s)
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
		return nil
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	sortByTime(rows, func(row streamRow) (time.Time, string) { return row.s.CreatedAt, row.s.ID })
	out := make([]streamView, 0, len(rows))
	for _, row := range rows {
		out = append(out, h.renderStream(r, row))
	}
	writeJSON(w, http.StatusOK, items(out))
}

type createStreamRequest = client.StreamCreate

func checkPolicy(p string) error {
	if !slices.Contains(state.PlaybackPolicies(), p) {
		return invalid("playback_policy must be one of %s", strings.Join(state.PlaybackPolicies(), ", "))
	}
	return nil
}

func checkDVRWindow(sec int) error {
	if sec != 0 && (sec < state.MinDVRWindow || sec > state.MaxDVRWindow) {
		return invalid("dvr_window must be 0 (the default) or %d to %d seconds", state.MinDVRWindow, state.MaxDVRWindow)
	}
	return nil
}

func checkLatency(m string) error {
	if !slices.Contains(state.LatencyModes(), m) {
		return invalid("latency_mode must be one of %s", strings.Join(state.LatencyModes(), ", "))
	}
	return nil
}

// Bounds of an SRT passphrase, libsrt's (SRTO_PASSPHRASE).
const (
	minSRTPassphrase = 10
	maxSRTPassphrase = 79
)

// checkSRTPassphrase admits "" (none) or what libsrt takes, printable so
// that it can be typed into an encoder. The message never quotes it.
func checkSRTPassphrase(p string) error {
	if p == "" {
		return nil
	}
	if len(p) < minSRTPassphrase || len(p) > maxSRTPassphrase {
		return invalid("srt_passphrase must be %d to %d bytes (libsrt's rule), or empty for none", minSRTPassphrase, maxSRTPassphrase)
	}
	if !utf8.ValidString(p) || strings.ContainsFunc(p, unicode.IsControl) {
		return invalid("srt_passphrase must be printable UTF-8 text")
	}
	return nil
}

// sealSRTPassphrase seals a passphrase for the state like a stream key
// (before proposing, so Apply stays deterministic); "" stays "".
func sealSRTPassphrase(secret []byte, p string) (string, error) {
	if p == "" {
		return "", nil
	}
	return streamkey.Seal(secret, p)
}

// createStream makes a stream with a fresh key and playback id; the answer
// carries the key.
func (h *Handler) createStream(w http.ResponseWriter, r *http.Request) {
	p := caller(r.Context())
	var in createStreamRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	name, err := cleanName("name", in.Name, true)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if in.PlaybackPolicy == "" {
		in.PlaybackPolicy = state.PolicyPublic
	}
	if in.LatencyMode == "" {
		in.LatencyMode = state.LatencyStandard
	}
	recording := true
	if in.Recording != nil {
		recording = *in.Recording
	}
	if err := checkPolicy(in.PlaybackPolicy); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := checkLatency(in.LatencyMode); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := checkDVRWindow(in.DVRWindow); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := checkCaptions(in.AutoCaptions, in.CaptionsLanguage); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := checkSRTPassphrase(in.SRTPassphrase); err != nil {
		h.writeError(w, r, err)
		return
	}
	var secret []byte
	err = h.view(func(tx *state.Tx) error {
		var err error
		secret, err = h.streamSecret(tx)
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	key, hash, sealed, err := streamkey.Generate(secret)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	passSealed, err := sealSRTPassphrase(secret, in.SRTPassphrase)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	now := h.now()
	s := state.Stream{ID: ids.New("str"), OrgID: p.orgID, Name: name, KeyHash: hash,
		KeySealed: sealed, PlaybackID: ids.PlaybackID(), PlaybackPolicy: in.PlaybackPolicy, Recording: recording,
		LatencyMode: in.LatencyMode, DVRWindow: in.DVRWindow, AutoCaptions: in.AutoCaptions, CaptionsLanguage: in.CaptionsLanguage,
		SRTPassphraseSealed: passSealed, Status: state.StreamIdle, CreatedAt: now, UpdatedAt: now, KeyResetAt: now}
	if err := h.apply(r.Context(), fsm.CmdCreateStream, s, &s); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, createdStream{Stream: h.renderStream(r, streamRow{s: s}), StreamKey: key})
}

func (h *Handler) getStream(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var row streamRow
	err := h.view(func(tx *state.Tx) error {
		s, err := orgStream(tx, orgID, id)
		if err != nil {
			return err
		}
		row, err = loadRow(tx, s)
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.renderStream(r, row))
}

type updateStreamRequest = client.StreamUpdate

// updateStream changes the settings present in the body.
func (h *Handler) updateStream(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var in updateStreamRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	cmd := fsm.UpdateStream{OrgID: orgID, ID: id, PlaybackPolicy: in.PlaybackPolicy, Recording: in.Recording,
		LatencyMode: in.LatencyMode, DVRWindow: in.DVRWindow, Disabled: in.Disabled, AutoCaptions: in.AutoCaptions,
		CaptionsLanguage: in.CaptionsLanguage, At: h.now()}
	if in.Name != nil {
		name, err := cleanName("name", *in.Name, true)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		cmd.Name = &name
	}
	if in.PlaybackPolicy != nil {
		if err := checkPolicy(*in.PlaybackPolicy); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if in.LatencyMode != nil {
		if err := checkLatency(*in.LatencyMode); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if in.DVRWindow != nil {
		if err := checkDVRWindow(*in.DVRWindow); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if in.CaptionsLanguage != nil {
		if err := checkCaptions(false, *in.CaptionsLanguage); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if in.SRTPassphrase != nil {
		if err := checkSRTPassphrase(*in.SRTPassphrase); err != nil {
			h.writeError(w, r, err)
			return
		}
		var secret []byte
		if err := h.view(func(tx *state.Tx) error { var err error; secret, err = h.streamSecret(tx); return err }); err != nil {
			h.writeError(w, r, err)
			return
		}
		sealed, err := sealSRTPassphrase(secret, *in.SRTPassphrase)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		cmd.SRTPassphraseSealed = &sealed
	}
	var s state.Stream
	if err := h.apply(r.Context(), fsm.CmdUpdateStream, cmd, &s); err != nil {
		h.writeError(w, r, err)
		return
	}
	var row streamRow
	if err := h.view(func(tx *state.Tx) error { var err error; row, err = loadRow(tx, s); return err }); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.renderStream(r, row))
}

func (h *Handler) deleteStream(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	if err := h.apply(r.Context(), fsm.CmdDeleteStream, fsm.DeleteStream{OrgID: orgID, ID: id}, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// streamKey unseals the key of stream id of org orgID.
func (h *Handler) streamKey(orgID, id string) (string, error) {
	key, _, err := h.publishSecrets(orgID, id)
	return key, err
}

// publishSecrets unseals what a publisher of stream id of org orgID
// needs: the key and the SRT passphrase ("" when it has none).
func (h *Handler) publishSecrets(orgID, id string) (key, passphrase string, err error) {
	err = h.view(func(tx *state.Tx) error {
		s, err := orgStream(tx, orgID, id)
		if err != nil {
			return err
		}
		secret, err := h.streamSecret(tx)
		if err != nil {
			return err
		}
		if key, err = streamkey.Open(secret, s.KeySealed); err != nil {
			return err
		}
		if s.SRTPassphraseSealed != "" {
			passphrase, err = streamkey.Open(secret, s.SRTPassphraseSealed)
		}
		return err
	})
	return key, passphrase, err
}

// getStreamKey unseals and shows the stream's key.
func (h *Handler) getStreamKey(w http.ResponseWriter, r *http.Request) {
	key, err := h.streamKey(caller(r.Context()).orgID, chi.URLParam(r, "id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, streamKeyView{StreamKey: key})
}

// resetStreamKey gives the stream a new key; the old one stops working as
// soon as the command commits.
func (h *Handler) resetStreamKey(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var none struct{}
	if err := decode(r, &none, true); err != nil {
		h.writeError(w, r, err)
		return
	}
	var secret []byte
	err := h.view(func(tx *state.Tx) error {
		if _, err := orgStream(tx, orgID, id); err != nil {
			return err
		}
		var err error
		secret, err = h.streamSecret(tx)
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	key, hash, sealed, err := streamkey.Generate(secret)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	cmd := fsm.ResetStreamKey{OrgID: orgID, ID: id, KeyHash: hash, KeySealed: sealed, At: h.now()}
	if err := h.apply(r.Context(), fsm.CmdResetStreamKey, cmd, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("stream key reset", "stream_id", id, "by", caller(r.Context()).actorID())
	writeJSON(w, http.StatusOK, streamKeyView{StreamKey: key})
}

// listSessions lists a stream's publishes, newest first.
func (h *Handler) listSessions(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var sessions []state.Session
	err := h.view(func(tx *state.Tx) error {
		if _, err := orgStream(tx, orgID, id); err != nil {
			return err
		}
		var err error
		sessions, err = tx.Sessions(func(s state.Session) bool { return s.StreamID == id && s.OrgID == orgID })
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	sortByTime(sessions, func(s state.Session) (time.Time, string) { return s.StartedAt, s.ID })
	slices.Reverse(sessions) // newest first
	out := make([]sessionView, 0, len(sessions))
	for _, s := range sessions {
		out = append(out, viewSession(s))
	}
	writeJSON(w, http.StatusOK, items(out))
}
