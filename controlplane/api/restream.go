package api

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
)

type (
	restreamTargetView    = client.RestreamTarget
	createRestreamRequest = client.RestreamTargetCreate
	updateRestreamRequest = client.RestreamTargetUpdate
)

// viewRestreamTarget shows a target without its key: whether it has one
// and, for a long one, its last four characters.
func viewRestreamTarget(r state.RestreamTarget) restreamTargetView {
	return restreamTargetView{ID: r.ID, StreamID: r.StreamID, Name: r.Name, Preset: r.Preset, URL: r.URL,
		KeySet: r.KeySealed != "", KeyLast4: r.KeyLast4, Enabled: r.Enabled, LinkedAccountID: r.LinkedAccountID,
		Status: r.Status, LastError: r.LastError, StatusAt: r.StatusAt, JobID: r.JobID,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// checkRestreamKey admits a stream key as services hand them out:
// printable, no spaces, at most state.MaxRestreamKey bytes. The message
// never quotes it.
func checkRestreamKey(k string) error {
	if k == "" || len(k) > state.MaxRestreamKey {
		return invalid("key is required, at most %d bytes", state.MaxRestreamKey)
	}
	if strings.ContainsFunc(k, func(c rune) bool { return unicode.IsSpace(c) || !unicode.IsPrint(c) }) {
		return invalid("key must be printable, without spaces")
	}
	return nil
}

// restreamURL is the URL of a target: the one given, else its preset's.
func restreamURL(preset, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = state.PresetURL(preset)
		if raw == "" {
			return "", invalid("url is required for a custom target (rtmp://host[:port]/app or rtmps://…)")
		}
	}
	if err := state.CheckRestreamURL(raw); err != nil {
		return "", err
	}
	return raw, nil
}

func checkPreset(p string) error {
	for _, v := range state.RestreamPresets() {
		if v == p {
			return nil
		}
	}
	return invalid("preset must be one of %s", strings.Join(state.RestreamPresets(), ", "))
}

func (h *Handler) listRestreamTargets(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var targets []state.RestreamTarget
	err := h.view(func(tx *state.Tx) error {
		if _, err := orgStream(tx, orgID, id); err != nil {
			return err
		}
		var err error
		targets, err = tx.RestreamTargets(id)
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := make([]restreamTargetView, 0, len(targets))
	for _, t := range targets {
		out = append(out, viewRestreamTarget(t))
	}
	writeJSON(w, http.StatusOK, items(out))
}

func (h *Handler) getRestreamTarget(w http.ResponseWriter, r *http.Request) {
	orgID, id, tid := caller(r.Context()).orgID, chi.URLParam(r, "id"), chi.URLParam(r, "tid")
	var t state.RestreamTarget
	err := h.view(func(tx *state.Tx) error {
		if _, err := orgStream(tx, orgID, id); err != nil {
			return err
		}
		var err error
		if t, err = tx.RestreamTarget(id, tid); err != nil {
			return notFound("restream target %s not found", tid)
		}
		return nil
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewRestreamTarget(t))
}

// createRestreamTarget adds a target; the key is sealed before it is
// proposed and never answered.
func (h *Handler) createRestreamTarget(w http.ResponseWriter, r *http.Request) {
	orgID, id := caller(r.Context()).orgID, chi.URLParam(r, "id")
	var in createRestreamRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	name, err := cleanName("name", in.Name, true)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if in.Preset == "" {
		in.Preset = state.PresetCustom
	}
	if err := checkPreset(in.Preset); err != nil {
		h.writeError(w, r, err)
		return
	}
	u, err := restreamURL(in.Preset, in.URL)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := checkRestreamKey(in.Key); err != nil {
		h.writeError(w, r, err)
		return
	}
	sealed, err := h.seal(state.SealRestreamKey, in.Key)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	enabled := in.Enabled == nil || *in.Enabled
	now := h.now()
	t := state.RestreamTarget{ID: ids.New("rst"), OrgID: orgID, StreamID: id, Name: name, Preset: in.Preset, URL: u,
		KeySealed: sealed, KeyLast4: state.Last4(in.Key), Enabled: enabled, CreatedAt: now, UpdatedAt: now}
	if err := h.apply(r.Context(), fsm.CmdCreateRestreamTarget, fsm.CreateRestreamTarget{Target: t}, &t); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewRestreamTarget(t))
}

// updateRestreamTarget changes what the body sets; switching a target off
// stops its relay at once, switching it on while live starts one.
func (h *Handler) updateRestreamTarget(w http.ResponseWriter, r *http.Request) {
	orgID, id, tid := caller(r.Context()).orgID, chi.URLParam(r, "id"), chi.URLParam(r, "tid")
	var in updateRestreamRequest
	if err := decode(r, &in, false); err != nil {
		h.writeError(w, r, err)
		return
	}
	cmd := fsm.UpdateRestreamTarget{OrgID: orgID, StreamID: id, ID: tid, Enabled: in.Enabled, At: h.now()}
	if in.Name != nil {
		name, err := cleanName("name", *in.Name, true)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		cmd.Name = &name
	}
	if in.Preset != nil || in.URL != nil {
		var cur state.RestreamTarget
		if err := h.view(func(tx *state.Tx) error {
			if _, err := orgStream(tx, orgID, id); err != nil {
				return err
			}
			var err error
			if cur, err = tx.RestreamTarget(id, tid); err != nil {
				return notFound("restream target %s not found", tid)
			}
			return nil
		}); err != nil {
			h.writeError(w, r, err)
			return
		}
		preset, raw := cur.Preset, ""
		if in.Preset != nil {
			if err := checkPreset(*in.Preset); err != nil {
				h.writeError(w, r, err)
				return
			}
			preset = *in.Preset
		}
		if in.URL != nil {
			raw = *in.URL
		} else if in.Preset == nil {
			raw = cur.URL
		}
		u, err := restreamURL(preset, raw)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		cmd.Preset, cmd.URL = &preset, &u
	}
	if in.Key != nil {
		if err := checkRestreamKey(*in.Key); err != nil {
			h.writeError(w, r, err)
			return
		}
		sealed, err := h.seal(state.SealRestreamKey, *in.Key)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		last4 := state.Last4(*in.Key)
		cmd.KeySealed, cmd.KeyLast4 = &sealed, &last4
	}
	var t state.RestreamTarget
	if err := h.apply(r.Context(), fsm.CmdUpdateRestreamTarget, cmd, &t); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewRestreamTarget(t))
}

func (h *Handler) deleteRestreamTarget(w http.ResponseWriter, r *http.Request) {
	orgID, id, tid := caller(r.Context()).orgID, chi.URLParam(r, "id"), chi.URLParam(r, "tid")
	cmd := fsm.DeleteRestreamTarget{OrgID: orgID, StreamID: id, ID: tid, At: h.now()}
	if err := h.apply(r.Context(), fsm.CmdDeleteRestreamTarget, cmd, nil); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
