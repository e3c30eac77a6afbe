package api

import (
	"net/http"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/directupload"
	"github.com/livestreams/livestreams/controlplane/fsm"
	"github.com/livestreams/livestreams/controlplane/ids"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/objstore"
)

type createUploadRequest = client.UploadCreate

type uploadAnswer = client.Upload

// createUpload creates an upload asset, preparing, and a presigned URL the
// client PUTs the file to. Nothing more happens here: the directupload.Watcher
// queues the asset's VOD job once the file is in object storage.
func (h *Handler) createUpload(w http.ResponseWriter, r *http.Request) {
	orgID := caller(r.Context()).orgID
	var in createUploadRequest
	if err := decode(r, &in, true); err != nil {
		h.writeError(w, r, err)
		return
	}
	if in.PlaybackPolicy == "" {
		in.PlaybackPolicy = state.PolicyPublic
	}
	if err := checkPolicy(in.PlaybackPolicy); err != nil {
		h.writeError(w, r, err)
		return
	}
	// The size is required: the upload URL is signed for exactly that
	// many bytes, which is how S3 (whose presigned PUTs know no "at
	// most") is held to the limit.
	if in.Size == nil {
		h.writeError(w, r, invalid("size is required: the file's length in bytes, which the upload URL is signed for"))
		return
	}
	{
		switch max := h.cfg.Uploads.MaxBytes; {
		case *in.Size < 1:
			h.writeError(w, r, invalid("size must be the file's length in bytes, at least 1"))
			return
		case *in.Size > max:
			h.writeError(w, r, errorf(codeTooLarge, "file is %s, over the %s upload limit (max_bytes %d)",
				directupload.FormatSize(*in.Size), directupload.FormatSize(max), max))
			return
		}
	}
	if h.cfg.Store == nil || h.cfg.Jobs == nil {
		h.writeError(w, r, errorf(codeUnavailable, "uploads are not enabled on this control plane: it has no object store or no job service"))
		return
	}
	id := ids.New("ast")
	prefix, err := objstore.AssetPrefix(orgID, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	key := prefix + objstore.SourceFile
	now, ttl := h.now(), h.cfg.Uploads.URLTTL
	// Presigned before the asset exists: an asset is never left waiting
	// for a file no one was told where to send. The URL writes once (a
	// second PUT, or one onto a ready asset's source, is refused) and
	// takes exactly the declared size.
	put, err := h.cfg.Store.PresignPut(r.Context(), key, ttl, objstore.PresignPutOptions{Size: *in.Size, Once: true})
	if err != nil {
		h.log.Error("presign an upload URL", "asset_id", id, "err", err)
		h.writeError(w, r, errorf(codeUnavailable, "the object store cannot make upload URLs right now"))
		return
	}
	a := state.Asset{ID: id, OrgID: orgID, Type: state.AssetUpload, PlaybackID: ids.PlaybackID(),
		PlaybackPolicy: in.PlaybackPolicy, ObjectPrefix: prefix, SourceKey: key, CreatedAt: now}
	if err := h.apply(r.Context(), fsm.CmdCreateAsset, fsm.CreateAsset{Asset: a}, &a); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.log.Info("upload created", "asset_id", a.ID, "by", caller(r.Context()).actorID())
	headers := map[string]string{}
	for k := range put.Header {
		headers[k] = put.Header.Get(k)
	}
	writeJSON(w, http.StatusCreated, uploadAnswer{Asset: h.renderAsset(r, assetRow{a: a}), UploadURL: put.URL,
		Method: http.MethodPut, Headers: headers, ExpiresAt: now.Add(ttl), MaxBytes: h.cfg.Uploads.MaxBytes})
}
