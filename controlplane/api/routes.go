package api

import (
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/controlplane/state"
	"github.com/livestreams/livestreams/shared/objstore"
)

// route is one row of the route table: what the router serves and what
// the OpenAPI document says of it, from the same row, so a route cannot be
// served and undocumented or documented and not served, nor guarded one
// way and described another.
type route struct {
	method, path string
	access       access
	serve        func(h *Handler, w http.ResponseWriter, r *http.Request)
	// snapshot puts the route in the snapshot group: a body as large as
	// the state (maxRestoreBody) and no request deadline; every other
	// route takes a JSON body of at most maxBody within requestTimeout.
	snapshot bool
	// stream puts the route in the stream group: a small body, no request
	// deadline (the event stream lasts as long as its client reads).
	stream bool

	// For the document.
	summary      string
	body         any // request body type (nil: none; rawBody: octet-stream; mediaBody: its type)
	optionalBody bool
	status       int
	answer       any // answer type (nil: no body)
	query        []string
}

// access is who may call a route: the gate the router puts before its
// handler and the rule the document (and docs/api.md) states.
type access struct {
	rule string // "none", "none (rate-limited)", "any", "user", "cluster admin" or a role
	// authenticated routes need a session token or an API key.
	authenticated bool
	// gate runs after authentication (before the handler of an open
	// route); nil lets every authenticated caller (or anyone) through.
	gate func(h *Handler) func(http.Handler) http.Handler
	// role is the least role a caller needs in the org it acts in: the
	// org of X-Livestreams-Org (or its first), or {org} when orgInPath.
	role      state.Role
	orgInPath bool
}

var (
	open          = access{rule: "none"}
	rateLimited   = access{rule: "none (rate-limited)", gate: func(h *Handler) func(http.Handler) http.Handler { return h.rateLimited }}
	anyCaller     = access{rule: "any", authenticated: true}
	userCaller    = access{rule: "user", authenticated: true, gate: func(h *Handler) func(http.Handler) http.Handler { return h.userOnly }}
	clusterCaller = access{rule: "cluster admin", authenticated: true,
		gate: func(h *Handler) func(http.Handler) http.Handler { return h.clusterAdmin }}
)

// loginLimited counts failed logins per account and address in the
// handler (loginLimits), not requests at the door.
var loginLimited = access{rule: "none (failed logins limited)"}

// inOrg admits callers with at least min in the org they act in.
func inOrg(min state.Role) access {
	return access{rule: string(min), authenticated: true, role: min,
		gate: func(h *Handler) func(http.Handler) http.Handler { return h.role(min) }}
}

// inPathOrg admits callers with at least min in the org named by {org}.
func inPathOrg(min state.Role) access {
	return access{rule: string(min), authenticated: true, role: min, orgInPath: true,
		gate: func(h *Handler) func(http.Handler) http.Handler { return h.pathOrg(min) }}
}

// rawBody stands for an application/octet-stream body or answer.
type rawBody struct{}

// textBody stands for a text answer (Prometheus exposition).
type textBody struct{}

// mediaBody stands for a body or answer of another media type, as text
// (an SDP offer or answer).
type mediaBody struct{ Type string }

// routeTable is every route of the API, as docs/api.md lists them.
func routeTable() []route {
	return []route{
		{method: "GET", path: "/healthz", access: open, serve: (*Handler).healthz,
			summary: "Liveness: answers while the process runs", status: 200, answer: statusAnswer{}},
		{method: "GET", path: "/readyz", access: open, serve: (*Handler).readyz,
			summary: "Readiness: a leader is known and the cluster meta applied", status: 200, answer: statusAnswer{}},
		{method: "GET", path: "/metrics", access: open, serve: (*Handler).serveMetrics,
			summary: "Prometheus metrics", status: 200, answer: textBody{}},
		{method: "GET", path: "/v1/openapi.json", access: open, serve: (*Handler).openAPI,
			summary: "This document", status: 200, answer: obj{}},
		{method: "GET", path: "/v1/play/{playback_id}.m3u8", access: open, serve: playing(playlistFile),
			summary: "Redirect (302) to the edge serving the stream or asset, query string kept; 409 when not live or not ready", status: 302},
		{method: "GET", path: "/v1/play/{playback_id}/thumbnail.jpg", access: open, serve: playing(objstore.ThumbnailFile),
			summary: "Redirect (302) to the poster image on that edge, query string (?time=, token) kept", status: 302},
		{method: "GET", path: "/v1/play/{playback_id}/storyboard.jpg", access: open, serve: playing(objstore.StoryboardImageFile),
			summary: "Redirect (302) to the seek-preview sprite sheet on that edge, query string kept", status: 302},
		{method: "GET", path: "/v1/play/{playback_id}/storyboard.vtt", access: open, serve: playing(objstore.StoryboardVTTFile),
			summary: "Redirect (302) to the WebVTT cues into the sprite sheet on that edge, query string kept", status: 302},
		{method: "GET", path: "/v1/play/{playback_id}/captions/{lang}.vtt", access: open, serve: (*Handler).playCaptions,
			summary: "Redirect (302) to an asset's WebVTT captions in a language on that edge, query string kept", status: 302},

		{method: "POST", path: "/v1/auth/signup", access: rateLimited, serve: (*Handler).signup,
			summary: "Sign up: with the one-time setup_token the first owner and cluster admin; otherwise only when signup is enabled",
			body:    signupRequest{}, status: 201, answer: signupAnswer{}},
		{method: "POST", path: "/v1/auth/login", access: loginLimited, serve: (*Handler).login,
			summary: "Log in for a 15-minute session token", body: loginRequest{}, status: 200, answer: loginAnswer{}},
		{method: "GET", path: "/v1/me", access: anyCaller, serve: (*Handler).me,
			summary: "Who the caller is, the org it acts in and its role", status: 200, answer: meAnswer{}},

		{method: "GET", path: "/v1/orgs", access: anyCaller, serve: (*Handler).listOrgs,
			summary: "The caller's orgs (a cluster admin: all)", status: 200, answer: list[orgView]{}},
		{method: "POST", path: "/v1/orgs", access: userCaller, serve: (*Handler).createOrg,
			summary: "Create an org owned by the caller", body: createOrgRequest{}, status: 201, answer: orgView{}},
		{method: "GET", path: "/v1/orgs/{org}", access: inPathOrg(state.RoleViewer), serve: (*Handler).getOrg,
			summary: "One org", status: 200, answer: orgView{}},
		{method: "DELETE", path: "/v1/orgs/{org}", access: inPathOrg(state.RoleOwner), serve: (*Handler).deleteOrg,
			summary: "Delete an org with everything it owns", status: 204},
		{method: "GET", path: "/v1/orgs/{org}/members", access: inPathOrg(state.RoleViewer), serve: (*Handler).listMembers,
			summary: "An org's members", status: 200, answer: list[memberView]{}},
		{method: "PUT", path: "/v1/orgs/{org}/members/{user}", access: inPathOrg(state.RoleAdmin), serve: (*Handler).putMember,
			summary: "Change a member's role (owner to grant or change owner); 404 for anyone not a member: add people by invitation", body: putMemberRequest{}, status: 200, answer: memberView{}},
		{method: "DELETE", path: "/v1/orgs/{org}/members/{user}", access: inPathOrg(state.RoleAdmin), serve: (*Handler).removeMember,
			summary: "Remove a member; the last owner stays (409); the API keys they created are revoked", status: 204},
		{method: "POST", path: "/v1/orgs/{org}/invitations", access: inPathOrg(state.RoleAdmin), serve: (*Handler).invite,
			summary: "Invite an email address to the org (role: member by default, at most the inviter's); the same answer whether or not the address belongs to a user",
			body:    invitationRequest{}, status: 201, answer: invitationView{}},
		{method: "GET", path: "/v1/orgs/{org}/invitations", access: inPathOrg(state.RoleAdmin), serve: (*Handler).listOrgInvitations,
			summary: "The org's invitations and their status", status: 200, answer: list[invitationView]{}},
		{method: "DELETE", path: "/v1/orgs/{org}/invitations/{id}", access: inPathOrg(state.RoleAdmin), serve: (*Handler).revokeInvitation,
			summary: "Withdraw an invitation", status: 204},
		{method: "GET", path: "/v1/invitations", access: userCaller, serve: (*Handler).myInvitations,
			summary: "The pending invitations addressed to the caller's email", status: 200, answer: list[invitationView]{}},
		{method: "POST", path: "/v1/invitations/{id}/accept", access: userCaller, serve: answeringInvitation(true),
			summary: "Accept an invitation addressed to the caller: join its org with its role (never lowering a role held)",
			body:    struct{}{}, optionalBody: true, status: 200, answer: memberView{}},
		{method: "POST", path: "/v1/invitations/{id}/decline", access: userCaller, serve: answeringInvitation(false),
			summary: "Decline an invitation addressed to the caller", body: struct{}{}, optionalBody: true, status: 204},

		{method: "POST", path: "/v1/users", access: clusterCaller, serve: (*Handler).createUser,
			summary: "Create a user, optionally a member of an org", body: createUserRequest{}, status: 201, answer: userView{}},

		{method: "GET", path: "/v1/api-keys", access: inOrg(state.RoleAdmin), serve: (*Handler).listAPIKeys,
			summary: "The org's API keys", status: 200, answer: list[apiKeyView]{}},
		{method: "POST", path: "/v1/api-keys", access: inOrg(state.RoleAdmin), serve: (*Handler).createAPIKey,
			summary: "Create an API key; the key is shown only in this answer and cannot outrank its creator",
			body:    createAPIKeyRequest{}, status: 201, answer: createdAPIKey{}},
		{method: "DELETE", path: "/v1/api-keys/{id}", access: inOrg(state.RoleAdmin), serve: (*Handler).revokeAPIKey,
			summary: "Revoke an API key", status: 204},

		{method: "GET", path: "/v1/streams", access: inOrg(state.RoleViewer), serve: (*Handler).listStreams,
			summary: "The org's streams", status: 200, answer: list[streamView]{}},
		{method: "POST", path: "/v1/streams", access: inOrg(state.RoleMember), serve: (*Handler).createStream,
			summary: "Create a stream; the answer carries its key", body: createStreamRequest{}, status: 201, answer: createdStream{}},
		{method: "GET", path: "/v1/streams/{id}", access: inOrg(state.RoleViewer), serve: (*Handler).getStream,
			summary: "One stream", status: 200, answer: streamView{}},
		{method: "PATCH", path: "/v1/streams/{id}", access: inOrg(state.RoleMember), serve: (*Handler).updateStream,
			summary: "Change a stream's settings", body: updateStreamRequest{}, status: 200, answer: streamView{}},
		{method: "DELETE", path: "/v1/streams/{id}", access: inOrg(state.RoleAdmin), serve: (*Handler).deleteStream,
			summary: "Delete a stream", status: 204},
		{method: "GET", path: "/v1/streams/{id}/key", access: inOrg(state.RoleMember), serve: (*Handler).getStreamKey,
			summary: "The stream's key", status: 200, answer: streamKeyView{}},
		{method: "POST", path: "/v1/streams/{id}/reset-key", access: inOrg(state.RoleMember), serve: (*Handler).resetStreamKey,
			summary: "Replace the stream's key; the old one stops working at once",
			body:    struct{}{}, optionalBody: true, status: 200, answer: streamKeyView{}},
		{method: "GET", path: "/v1/streams/{id}/sessions", access: inOrg(state.RoleViewer), serve: (*Handler).listSessions,
			summary: "The stream's sessions, newest first", status: 200, answer: list[sessionView]{}},
		{method: "GET", path: "/v1/streams/{id}/ingest", access: inOrg(state.RoleMember), serve: (*Handler).streamIngest,
			summary: "What to give an encoder to publish the stream (URLs with the key) for each protocol the edge nearest the caller (or ?ip=) offers",
			status:  200, answer: ingestView{}, query: []string{"ip"}},
		{method: "POST", path: "/v1/streams/{id}/whip", access: inOrg(state.RoleMember), serve: (*Handler).whipPublish,
			summary: "Go live from a browser: the SDP offer is relayed with the stream key to the nearest edge offering WHIP; 201 with its SDP answer and a Location here",
			body:    mediaBody{sdpType}, status: 201, answer: mediaBody{sdpType}},
		{method: "PATCH", path: "/v1/streams/{id}/whip/{resource}", access: inOrg(state.RoleMember), serve: (*Handler).whipResourceCall,
			summary: "Trickle ICE or an ICE restart on a WHIP session, relayed to its edge",
			body:    mediaBody{"application/trickle-ice-sdpfrag"}, status: 204},
		{method: "DELETE", path: "/v1/streams/{id}/whip/{resource}", access: inOrg(state.RoleMember), serve: (*Handler).whipResourceCall,
			summary: "End a WHIP session, relayed to its edge", status: 200},

		{method: "GET", path: "/v1/streams/{id}/restream-targets", access: inOrg(state.RoleViewer), serve: (*Handler).listRestreamTargets,
			summary: "The stream's restream targets with their relay status (keys are never shown)", status: 200, answer: list[restreamTargetView]{}},
		{method: "POST", path: "/v1/streams/{id}/restream-targets", access: inOrg(state.RoleMember), serve: (*Handler).createRestreamTarget,
			summary: "Add a restream target (preset youtube, twitch, facebook, kick or custom); relays at once if enabled and live",
			body:    createRestreamRequest{}, status: 201, answer: restreamTargetView{}},
		{method: "GET", path: "/v1/streams/{id}/restream-targets/{tid}", access: inOrg(state.RoleViewer), serve: (*Handler).getRestreamTarget,
			summary: "One restream target", status: 200, answer: restreamTargetView{}},
		{method: "PATCH", path: "/v1/streams/{id}/restream-targets/{tid}", access: inOrg(state.RoleMember), serve: (*Handler).updateRestreamTarget,
			summary: "Change a restream target; enabled false stops its relay, true starts one while live",
			body:    updateRestreamRequest{}, status: 200, answer: restreamTargetView{}},
		{method: "DELETE", path: "/v1/streams/{id}/restream-targets/{tid}", access: inOrg(state.RoleMember), serve: (*Handler).deleteRestreamTarget,
			summary: "Delete a restream target and stop its relay", status: 204},
		{method: "POST", path: "/v1/streams/{id}/restream-targets/from-account", access: inOrg(state.RoleMember), serve: (*Handler).restreamFromAccount,
			summary: "Add a restream target from a linked YouTube or Twitch account: the provider names the ingest URL and stream key (sealed, never shown)",
			body:    restreamFromAccountRequest{}, status: 201, answer: restreamTargetView{}},

		{method: "GET", path: "/v1/oauth/{provider}/start", access: inOrg(state.RoleMember), serve: (*Handler).oauthStart,
			summary: "Start linking a youtube or twitch account to the org: the provider's consent URL (valid 10 minutes, single use), or a 302 to it with ?redirect=1; 503 when the operator registered no app",
			status:  200, answer: oauthStartAnswer{}, query: []string{"redirect"}},
		{method: "GET", path: "/v1/oauth/{provider}/callback", access: rateLimited, serve: (*Handler).oauthCallback,
			summary: "Where the provider returns the browser: consumes the state, exchanges the code with its PKCE verifier and links the account; 400 for an unknown, used or expired state",
			status:  200, answer: linkedAccountView{}, query: []string{"state", "code", "error"}},
		{method: "GET", path: "/v1/linked-accounts", access: inOrg(state.RoleViewer), serve: (*Handler).listLinkedAccounts,
			summary: "The org's linked provider accounts (never their tokens)", status: 200, answer: list[linkedAccountView]{}},
		{method: "DELETE", path: "/v1/linked-accounts/{id}", access: inOrg(state.RoleMember), serve: (*Handler).unlinkAccount,
			summary: "Unlink an account: its tokens are revoked at the provider, then forgotten", status: 204},

		{method: "GET", path: "/v1/assets", access: inOrg(state.RoleViewer), serve: (*Handler).listAssets,
			summary: "The org's assets, newest first, a page at a time", status: 200, answer: page[assetView]{},
			query: []string{"status", "type", "stream_id", "limit", "cursor"}},
		{method: "GET", path: "/v1/assets/{id}", access: inOrg(state.RoleViewer), serve: (*Handler).getAsset,
			summary: "One asset", status: 200, answer: assetView{}},
		{method: "PATCH", path: "/v1/assets/{id}", access: inOrg(state.RoleMember), serve: (*Handler).updateAsset,
			summary: "Change an asset's playback policy", body: updateAssetRequest{}, status: 200, answer: assetView{}},
		{method: "DELETE", path: "/v1/assets/{id}", access: inOrg(state.RoleMember), serve: (*Handler).deleteAsset,
			summary: "Delete an asset and its files; its unfinished jobs are cancelled", status: 204},
		{method: "POST", path: "/v1/assets/{id}/clips", access: inOrg(state.RoleMember), serve: (*Handler).createClip,
			summary: "Cut a clip of a ready asset into a new asset; queues its clip job", body: createClipRequest{}, status: 201, answer: clipAnswer{}},
		{method: "POST", path: "/v1/assets/{id}/captions", access: inOrg(state.RoleMember), serve: (*Handler).createCaptions,
			summary: "Caption a ready asset's speech in a language: queues a captions job (201 with it); 409 while one in that language is queued or running",
			body:    captionsRequest{}, status: 201, answer: jobView{}},
		{method: "POST", path: "/v1/uploads", access: inOrg(state.RoleMember), serve: (*Handler).createUpload,
			summary: "Create an upload asset and a URL to PUT the file to; its VOD job is queued once the file lands",
			body:    createUploadRequest{}, optionalBody: true, status: 201, answer: uploadAnswer{}},

		{method: "GET", path: "/v1/jobs", access: inOrg(state.RoleViewer), serve: (*Handler).listJobs,
			summary: "The org's media jobs, newest first, a page at a time", status: 200, answer: page[jobView]{},
			query: []string{"state", "type", "asset_id", "limit", "cursor"}},
		{method: "GET", path: "/v1/jobs/{id}/log", access: inOrg(state.RoleViewer), serve: (*Handler).jobLog,
			summary: "The last lines (at most 200, 32 KiB) of a job's ffmpeg output: stored when it ends, what this node has seen while it runs", status: 200, answer: jobLogAnswer{}},
		{method: "GET", path: "/v1/jobs/{id}", access: inOrg(state.RoleViewer), serve: (*Handler).getJob,
			summary: "One job with its attempts and progress", status: 200, answer: jobView{}},
		{method: "DELETE", path: "/v1/jobs/{id}", access: inOrg(state.RoleMember), serve: (*Handler).cancelJob,
			summary: "Cancel a job (a running one stops at its edge's next renewal); 409 once it succeeded or failed", status: 200, answer: jobView{}},

		{method: "GET", path: "/v1/signing-keys", access: inOrg(state.RoleAdmin), serve: (*Handler).listSigningKeys,
			summary: "The org's playback signing keys", status: 200, answer: list[signingKeyView]{}},
		{method: "POST", path: "/v1/signing-keys", access: inOrg(state.RoleAdmin), serve: (*Handler).createSigningKey,
			summary: "Create a signing key; the private half is shown once and stored only with keep_private",
			body:    createSigningKeyRequest{}, optionalBody: true, status: 201, answer: createdSigningKey{}},
		{method: "DELETE", path: "/v1/signing-keys/{id}", access: inOrg(state.RoleAdmin), serve: (*Handler).revokeSigningKey,
			summary: "Revoke a signing key", status: 204},
		{method: "POST", path: "/v1/signing-keys/{id}/tokens", access: inOrg(state.RoleMember), serve: (*Handler).mintToken,
			summary: "Mint a playback token; 409 when the private half was not kept", body: mintTokenRequest{}, status: 200, answer: mintTokenAnswer{}},

		{method: "GET", path: "/v1/webhooks", access: inOrg(state.RoleAdmin), serve: (*Handler).listWebhooks,
			summary: "The org's webhook endpoints (never their secrets)", status: 200, answer: list[webhookView]{}},
		{method: "POST", path: "/v1/webhooks", access: inOrg(state.RoleAdmin), serve: (*Handler).createWebhook,
			summary: "Create a webhook endpoint (event_types empty: every type); the secret, generated unless given, is shown only in this answer; a private or loopback URL is refused unless the operator allows it",
			body:    webhookCreateRequest{}, status: 201, answer: webhookWithSecret{}},
		{method: "GET", path: "/v1/webhooks/{id}", access: inOrg(state.RoleAdmin), serve: (*Handler).getWebhook,
			summary: "One webhook endpoint", status: 200, answer: webhookView{}},
		{method: "PATCH", path: "/v1/webhooks/{id}", access: inOrg(state.RoleAdmin), serve: (*Handler).updateWebhook,
			summary: "Change a webhook endpoint's URL, description, event types or enabled toggle", body: webhookUpdateRequest{}, status: 200, answer: webhookView{}},
		{method: "DELETE", path: "/v1/webhooks/{id}", access: inOrg(state.RoleAdmin), serve: (*Handler).deleteWebhook,
			summary: "Delete a webhook endpoint; its pending deliveries fail", status: 204},
		{method: "POST", path: "/v1/webhooks/{id}/rotate-secret", access: inOrg(state.RoleAdmin), serve: (*Handler).rotateWebhookSecret,
			summary: "Replace a webhook endpoint's secret (generated unless given), shown only in this answer",
			body:    webhookRotateRequest{}, optionalBody: true, status: 200, answer: webhookWithSecret{}},
		{method: "POST", path: "/v1/webhooks/{id}/test", access: inOrg(state.RoleAdmin), serve: (*Handler).testWebhook,
			summary: "Queue a webhook.ping delivery to the endpoint", body: struct{}{}, optionalBody: true, status: 202, answer: webhookDeliveryView{}},
		{method: "GET", path: "/v1/webhooks/{id}/deliveries", access: inOrg(state.RoleAdmin), serve: (*Handler).listDeliveries,
			summary: "A webhook endpoint's deliveries with their attempts, newest first", status: 200, answer: list[webhookDeliveryView]{}, query: []string{"limit"}},
		{method: "GET", path: "/v1/webhooks/deliveries/{id}", access: inOrg(state.RoleAdmin), serve: (*Handler).getDelivery,
			summary: "One delivery: its attempts (status, response code, latency, the first KiB of the answer, error) and the body sent", status: 200, answer: webhookDeliveryView{}},
		{method: "POST", path: "/v1/webhooks/deliveries/{id}/redeliver", access: inOrg(state.RoleAdmin), serve: (*Handler).redeliver,
			summary: "Send a delivery's event again, with the same event id and body, as a new delivery", body: struct{}{}, optionalBody: true, status: 202, answer: webhookDeliveryView{}},

		{method: "GET", path: "/v1/cluster", access: clusterCaller, serve: (*Handler).clusterStatus,
			summary: "Raft status and the control-plane nodes", status: 200, answer: clusterView{}},
		{method: "POST", path: "/v1/cluster/members", access: clusterCaller, serve: (*Handler).addClusterMember,
			summary: "Add a control-plane node as a voter", body: addMemberRequest{}, status: 200, answer: addMemberRequest{}},
		{method: "DELETE", path: "/v1/cluster/members/{id}", access: clusterCaller, serve: (*Handler).removeClusterMember,
			summary: "Remove a control-plane node", status: 204},
		{method: "GET", path: "/v1/cluster/snapshot", access: clusterCaller, serve: (*Handler).saveSnapshot, snapshot: true,
			summary: "The whole state as a snapshot file", status: 200, answer: rawBody{}},
		{method: "POST", path: "/v1/cluster/restore", access: clusterCaller, serve: (*Handler).restoreSnapshot, snapshot: true,
			summary: "Replace the whole state with a snapshot file", body: rawBody{}, status: 204},
		{method: "POST", path: "/v1/cluster/join-tokens", access: clusterCaller, serve: (*Handler).createJoinToken,
			summary: "Create a single-use edge join token (ttl: 1h by default)", body: joinTokenRequest{}, optionalBody: true, status: 201, answer: joinTokenAnswer{}},
		{method: "GET", path: "/v1/cluster/join-tokens", access: clusterCaller, serve: (*Handler).listJoinTokens,
			summary: "Edge join tokens and their state (never their secrets)", status: 200, answer: list[joinTokenView]{}},
		{method: "DELETE", path: "/v1/cluster/join-tokens/{id}", access: clusterCaller, serve: (*Handler).revokeJoinToken,
			summary: "Revoke an edge join token", status: 204},
		{method: "GET", path: "/v1/cluster/ca", access: clusterCaller, serve: (*Handler).caStatus,
			summary: "The cluster CAs and the edges a rotation waits for", status: 200, answer: caStatusView{}},
		{method: "POST", path: "/v1/cluster/ca/rotate", access: clusterCaller, serve: (*Handler).rotateCA,
			summary: "Start a cluster CA rotation: a new CA, the old one trusted until finish",
			body:    client.CARotate{}, optionalBody: true, status: 200, answer: caStatusView{}},
		{method: "POST", path: "/v1/cluster/ca/finish", access: clusterCaller, serve: (*Handler).finishCARotation,
			summary: "Finish a CA rotation: stop trusting the old CA; 409 while edges hold its certificates unless forced",
			body:    client.CAFinish{}, optionalBody: true, status: 200, answer: caStatusView{}},
		{method: "GET", path: "/v1/nodes", access: clusterCaller, serve: (*Handler).listNodes,
			summary: "The edge fleet: state, region, load, streams", status: 200, answer: nodesView{}},
		{method: "DELETE", path: "/v1/nodes/{id}", access: clusterCaller, serve: (*Handler).removeNode,
			summary: "Remove an edge: revoke its certificate, cut it off, end its sessions", status: 204},
		{method: "POST", path: "/v1/nodes/{id}/drain", access: clusterCaller, serve: (*Handler).drainNode,
			summary: "Drain an edge: no new publishes or viewers; running sessions go on", status: 204},
		{method: "DELETE", path: "/v1/nodes/{id}/drain", access: clusterCaller, serve: (*Handler).drainNode,
			summary: "Lift an edge's drain order", status: 204},
		{method: "GET", path: "/v1/route", access: clusterCaller, serve: (*Handler).explainRoute,
			summary: "How a viewer at ?ip= is routed for ?playback_id=, with every candidate's score",
			status:  200, answer: client.Route{}, query: []string{"playback_id", "ip"}},
		{method: "GET", path: "/v1/events", access: eventsAccess, serve: (*Handler).events, stream: true,
			summary: "The org's events as server-sent events (text/event-stream), resumable with Last-Event-ID or ?after=; with ?format=json one page of the stored log (next_cursor is the next ?after=)",
			status:  200, answer: page[eventView]{}, query: []string{"stream_id", "asset_id", "job_id", "type", "after", "format", "limit", "token"}},
		{method: "POST", path: "/v1/events/token", access: inOrg(state.RoleViewer), serve: (*Handler).mintEventsToken,
			summary: "A 5-minute query token that reads the org's event stream and nothing else (GET /v1/events?token=, for EventSource)",
			body:    struct{}{}, optionalBody: true, status: 201, answer: eventsTokenAnswer{}},
		{method: "GET", path: "/v1/analytics", access: inOrg(state.RoleViewer), serve: (*Handler).getAnalytics,
			summary: "Viewing figures of a stream or asset (?stream_id= or ?asset_id=) from ?from= to ?to= (default the last 24 h), grouped by ?group_by=minute, hour (default), country, city or edge",
			status:  200, answer: client.Analytics{}, query: []string{"stream_id", "asset_id", "from", "to", "group_by"}},
	}
}

// playing serves the play route of one file of a stream or asset.
func playing(file string) func(h *Handler, w http.ResponseWriter, r *http.Request) {
	return func(h *Handler, w http.ResponseWriter, r *http.Request) { h.play(file)(w, r) }
}

// serveMetrics serves the metrics registry.
func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	h.metrics.handler.ServeHTTP(w, r)
}

// register puts the routes of table on r: the open ones as they are, the
// others behind authentication, each behind its access gate.
func (h *Handler) register(r chi.Router, table []route) {
	handle := func(r chi.Router, rt route) {
		if rt.access.gate != nil {
			r = r.With(rt.access.gate(h))
		}
		r.MethodFunc(rt.method, rt.path, func(w http.ResponseWriter, req *http.Request) { rt.serve(h, w, req) })
	}
	for _, rt := range table {
		if !rt.access.authenticated {
			handle(r, rt)
		}
	}
	r.Group(func(r chi.Router) {
		r.Use(h.authenticated)
		for _, rt := range table {
			if rt.access.authenticated {
				handle(r, rt)
			}
		}
	})
}

// routes builds the router from the route table.
func (h *Handler) routes() chi.Router {
	var small, snapshot, stream []route
	for _, rt := range routeTable() {
		switch {
		case rt.snapshot:
			snapshot = append(snapshot, rt)
		case rt.stream:
			stream = append(stream, rt)
		default:
			small = append(small, rt)
		}
	}
	r := chi.NewRouter()
	r.Use(withRequestID, h.withClientIP, h.observe, h.recoverer, h.corsHeaders, h.consistentReads)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, notFound("no route %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		// 405 has no code of its own in the contract: it is a request the
		// client got wrong, so "invalid".
		writeJSON(w, http.StatusMethodNotAllowed, errorBody(codeInvalid,
			fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path)))
	})

	// Everything but the snapshot streams: small bodies, bounded time.
	r.Group(func(r chi.Router) {
		r.Use(h.limitBody(maxBody), timeout(requestTimeout))
		h.register(r, small)
	})

	// The snapshot streams: as large and as long as the state is.
	r.Group(func(r chi.Router) {
		r.Use(h.limitBody(maxRestoreBody))
		h.register(r, snapshot)
	})

	// The event stream: small requests, as long as the client reads.
	r.Group(func(r chi.Router) {
		r.Use(h.limitBody(maxBody))
		h.register(r, stream)
	})
	return r
}
