package client

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Auth: signup, login and who the caller is.
type Auth struct{ c *Client }

func (c *Client) Auth() Auth { return Auth{c} }

// Signup creates a user (with the setup token: the first owner and
// cluster admin) and its org.
func (a Auth) Signup(ctx context.Context, s Signup) (SignupResult, error) {
	var out SignupResult
	return out, a.c.post(ctx, "/v1/auth/signup", s, &out)
}

// Login returns a session token; c.As(res.Token, "") acts with it.
func (a Auth) Login(ctx context.Context, l Login) (LoginResult, error) {
	var out LoginResult
	return out, a.c.post(ctx, "/v1/auth/login", l, &out)
}

// Me says who the caller is.
func (a Auth) Me(ctx context.Context) (Me, error) {
	var out Me
	return out, a.c.get(ctx, "/v1/me", nil, &out)
}

// Orgs and their members.
type Orgs struct{ c *Client }

func (c *Client) Orgs() Orgs { return Orgs{c} }

func (o Orgs) List(ctx context.Context) ([]Org, error) {
	var out List[Org]
	return out.Items, o.c.get(ctx, "/v1/orgs", nil, &out)
}

func (o Orgs) Create(ctx context.Context, r OrgCreate) (Org, error) {
	var out Org
	return out, o.c.post(ctx, "/v1/orgs", r, &out)
}

func (o Orgs) Get(ctx context.Context, id string) (Org, error) {
	var out Org
	return out, o.c.get(ctx, pathf("/v1/orgs/%s", id), nil, &out)
}

func (o Orgs) Delete(ctx context.Context, id string) error {
	return o.c.delete(ctx, pathf("/v1/orgs/%s", id), nil)
}

func (o Orgs) Members(ctx context.Context, org string) ([]Member, error) {
	var out List[Member]
	return out.Items, o.c.get(ctx, pathf("/v1/orgs/%s/members", org), nil, &out)
}

// PutMember adds a member or changes a role.
func (o Orgs) PutMember(ctx context.Context, org, user string, r MemberPut) (Member, error) {
	var out Member
	return out, o.c.send1(ctx, http.MethodPut, pathf("/v1/orgs/%s/members/%s", org, user), r, &out)
}

func (o Orgs) RemoveMember(ctx context.Context, org, user string) error {
	return o.c.delete(ctx, pathf("/v1/orgs/%s/members/%s", org, user), nil)
}

// Users: creation by a cluster admin.
type Users struct{ c *Client }

func (c *Client) Users() Users { return Users{c} }

func (u Users) Create(ctx context.Context, r UserCreate) (User, error) {
	var out User
	return out, u.c.post(ctx, "/v1/users", r, &out)
}

// APIKeys of the caller's org.
type APIKeys struct{ c *Client }

func (c *Client) APIKeys() APIKeys { return APIKeys{c} }

func (k APIKeys) List(ctx context.Context) ([]APIKey, error) {
	var out List[APIKey]
	return out.Items, k.c.get(ctx, "/v1/api-keys", nil, &out)
}

// Create returns the key, shown only in this answer.
func (k APIKeys) Create(ctx context.Context, r APIKeyCreate) (APIKeyCreated, error) {
	var out APIKeyCreated
	return out, k.c.post(ctx, "/v1/api-keys", r, &out)
}

func (k APIKeys) Revoke(ctx context.Context, id string) error {
	return k.c.delete(ctx, pathf("/v1/api-keys/%s", id), nil)
}

// Streams of the caller's org.
type Streams struct{ c *Client }

func (c *Client) Streams() Streams { return Streams{c} }

func (s Streams) List(ctx context.Context) ([]Stream, error) {
	var out List[Stream]
	return out.Items, s.c.get(ctx, "/v1/streams", nil, &out)
}

// Create returns the stream with its key.
func (s Streams) Create(ctx context.Context, r StreamCreate) (StreamCreated, error) {
	var out StreamCreated
	return out, s.c.post(ctx, "/v1/streams", r, &out)
}

func (s Streams) Get(ctx context.Context, id string) (Stream, error) {
	var out Stream
	return out, s.c.get(ctx, pathf("/v1/streams/%s", id), nil, &out)
}

func (s Streams) Update(ctx context.Context, id string, r StreamUpdate) (Stream, error) {
	var out Stream
	return out, s.c.send1(ctx, http.MethodPatch, pathf("/v1/streams/%s", id), r, &out)
}

func (s Streams) Delete(ctx context.Context, id string) error {
	return s.c.delete(ctx, pathf("/v1/streams/%s", id), nil)
}

// Key returns the stream's key.
func (s Streams) Key(ctx context.Context, id string) (string, error) {
	var out StreamKey
	return out.StreamKey, s.c.get(ctx, pathf("/v1/streams/%s/key", id), nil, &out)
}

// ResetKey replaces the stream's key and returns the new one; the old one
// stops working at once.
func (s Streams) ResetKey(ctx context.Context, id string) (string, error) {
	var out StreamKey
	return out.StreamKey, s.c.post(ctx, pathf("/v1/streams/%s/reset-key", id), nil, &out)
}

// Sessions lists the stream's sessions, newest first.
func (s Streams) Sessions(ctx context.Context, id string) ([]Session, error) {
	var out List[Session]
	return out.Items, s.c.get(ctx, pathf("/v1/streams/%s/sessions", id), nil, &out)
}

// Ingest returns where to publish: the edge nearest the caller, or
// nearest ip when it is not empty.
func (s Streams) Ingest(ctx context.Context, id, ip string) (Ingest, error) {
	var q url.Values
	if ip != "" {
		q = url.Values{"ip": {ip}}
	}
	var out Ingest
	return out, s.c.get(ctx, pathf("/v1/streams/%s/ingest", id), q, &out)
}

// maxSDP bounds the SDP answer read into memory.
const maxSDP = 256 << 10

// WHIP publishes the stream from a WebRTC offer through the control
// plane's WHIP proxy (the key stays on the server): it relays offer (SDP)
// to the edge nearest the caller that offers WHIP and returns the edge's
// answer with the session's resource, which EndWHIP ends.
func (s Streams) WHIP(ctx context.Context, id, offer string) (WHIPAnswer, error) {
	r := request{method: http.MethodPost, path: pathf("/v1/streams/%s/whip", id), rawType: "application/sdp",
		raw: func() (io.Reader, int64, error) { return strings.NewReader(offer), int64(len(offer)), nil }}
	resp, err := s.c.do(ctx, r)
	if err != nil {
		return WHIPAnswer{}, err
	}
	defer resp.Body.Close()
	sdp, err := io.ReadAll(io.LimitReader(resp.Body, maxSDP))
	if err != nil {
		return WHIPAnswer{}, fmt.Errorf("%s %s: read answer: %w", r.method, r.path, err)
	}
	return WHIPAnswer{SDP: string(sdp), Location: resp.Header.Get("Location"), ETag: resp.Header.Get("ETag")}, nil
}

// EndWHIP ends a WHIP publish: DELETE on the location WHIP answered.
func (s Streams) EndWHIP(ctx context.Context, location string) error {
	if !strings.HasPrefix(location, "/v1/streams/") {
		return fmt.Errorf("end whip session: %q is not a WHIP resource of this API", location)
	}
	return s.c.delete(ctx, location, nil)
}

// ListOptions pages through a paginated list: Limit items a page (zero:
// the server's default), starting at Cursor ("" for the first page).
type ListOptions struct {
	Limit  int
	Cursor string
}

// listPage gets one page of the list at path, filtered by the query
// parameters in filter (name, value pairs; empty values are left out).
func listPage[T any](ctx context.Context, c *Client, path string, o ListOptions, filter ...string) (Page[T], error) {
	q := url.Values{}
	for i := 0; i+1 < len(filter); i += 2 {
		if filter[i+1] != "" {
			q.Set(filter[i], filter[i+1])
		}
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	var out Page[T]
	return out, c.get(ctx, path, q, &out)
}

// all yields every item of a paginated list, page after page, from the
// cursor in opts; it stops at the first error, which it yields.
func all[T any](ctx context.Context, opts ListOptions, page func(context.Context, ListOptions) (Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			p, err := page(ctx, opts)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			if p.NextCursor == "" || p.NextCursor == opts.Cursor {
				return
			}
			opts.Cursor = p.NextCursor
		}
	}
}

// Assets of the caller's org: recordings, uploads, clips.
type Assets struct{ c *Client }

func (c *Client) Assets() Assets { return Assets{c} }

// AssetFilter narrows an asset list; empty fields do not filter.
type AssetFilter struct {
	Status, Type, StreamID string
	ListOptions
}

// List returns one page of assets, newest first.
func (a Assets) List(ctx context.Context, f AssetFilter) (Page[Asset], error) {
	return listPage[Asset](ctx, a.c, "/v1/assets", f.ListOptions, "status", f.Status, "type", f.Type, "stream_id", f.StreamID)
}

// All yields every asset that f selects, fetching page after page.
func (a Assets) All(ctx context.Context, f AssetFilter) iter.Seq2[Asset, error] {
	return all(ctx, f.ListOptions, func(ctx context.Context, o ListOptions) (Page[Asset], error) {
		f.ListOptions = o
		return a.List(ctx, f)
	})
}

func (a Assets) Get(ctx context.Context, id string) (Asset, error) {
	var out Asset
	return out, a.c.get(ctx, pathf("/v1/assets/%s", id), nil, &out)
}

func (a Assets) Update(ctx context.Context, id string, r AssetUpdate) (Asset, error) {
	var out Asset
	return out, a.c.send1(ctx, http.MethodPatch, pathf("/v1/assets/%s", id), r, &out)
}

// Delete deletes the asset and its files; its unfinished jobs are
// cancelled.
func (a Assets) Delete(ctx context.Context, id string) error {
	return a.c.delete(ctx, pathf("/v1/assets/%s", id), nil)
}

// Clip cuts a clip of a ready asset into a new asset and queues its job.
func (a Assets) Clip(ctx context.Context, id string, r ClipCreate) (Clip, error) {
	var out Clip
	return out, a.c.post(ctx, pathf("/v1/assets/%s/clips", id), r, &out)
}

// Captions queues a captions job for a ready asset in a language; a
// conflict while one is queued or running.
func (a Assets) Captions(ctx context.Context, id string, r CaptionsCreate) (Job, error) {
	var out Job
	return out, a.c.post(ctx, pathf("/v1/assets/%s/captions", id), r, &out)
}

// Upload creates an upload asset and the URL to PUT its file to.
func (a Assets) Upload(ctx context.Context, r UploadCreate) (Upload, error) {
	var out Upload
	return out, a.c.post(ctx, "/v1/uploads", r, &out)
}

// Jobs of the caller's org.
type Jobs struct{ c *Client }

func (c *Client) Jobs() Jobs { return Jobs{c} }

// JobFilter narrows a job list; empty fields do not filter.
type JobFilter struct {
	State, Type, AssetID string
	ListOptions
}

// List returns one page of jobs, newest first.
func (j Jobs) List(ctx context.Context, f JobFilter) (Page[Job], error) {
	return listPage[Job](ctx, j.c, "/v1/jobs", f.ListOptions, "state", f.State, "type", f.Type, "asset_id", f.AssetID)
}

// All yields every job that f selects, fetching page after page.
func (j Jobs) All(ctx context.Context, f JobFilter) iter.Seq2[Job, error] {
	return all(ctx, f.ListOptions, func(ctx context.Context, o ListOptions) (Page[Job], error) {
		f.ListOptions = o
		return j.List(ctx, f)
	})
}

func (j Jobs) Get(ctx context.Context, id string) (Job, error) {
	var out Job
	return out, j.c.get(ctx, pathf("/v1/jobs/%s", id), nil, &out)
}

// Cancel cancels the job and returns it; a conflict (IsConflict) once it
// succeeded or failed.
func (j Jobs) Cancel(ctx context.Context, id string) (Job, error) {
	var out Job
	return out, j.c.delete(ctx, pathf("/v1/jobs/%s", id), &out)
}

// SigningKeys of the caller's org, and playback tokens.
type SigningKeys struct{ c *Client }

func (c *Client) SigningKeys() SigningKeys { return SigningKeys{c} }

func (k SigningKeys) List(ctx context.Context) ([]SigningKey, error) {
	var out List[SigningKey]
	return out.Items, k.c.get(ctx, "/v1/signing-keys", nil, &out)
}

// Create returns the key with its private half, shown only in this answer.
func (k SigningKeys) Create(ctx context.Context, r SigningKeyCreate) (SigningKeyCreated, error) {
	var out SigningKeyCreated
	return out, k.c.post(ctx, "/v1/signing-keys", r, &out)
}

func (k SigningKeys) Revoke(ctx context.Context, id string) error {
	return k.c.delete(ctx, pathf("/v1/signing-keys/%s", id), nil)
}

// Mint mints a playback token with the key; a conflict when the server
// did not keep its private half.
func (k SigningKeys) Mint(ctx context.Context, id string, r TokenMint) (Token, error) {
	var out Token
	return out, k.c.post(ctx, pathf("/v1/signing-keys/%s/tokens", id), r, &out)
}

// Cluster is the control-plane cluster: Raft status, members, edge join
// tokens, snapshots. Every call needs a cluster admin.
type Cluster struct{ c *Client }

func (c *Client) Cluster() Cluster { return Cluster{c} }

func (cl Cluster) Status(ctx context.Context) (ClusterStatus, error) {
	var out ClusterStatus
	return out, cl.c.get(ctx, "/v1/cluster", nil, &out)
}

// AddMember adds a control-plane node as a voter.
func (cl Cluster) AddMember(ctx context.Context, m ClusterMember) (ClusterMember, error) {
	var out ClusterMember
	return out, cl.c.post(ctx, "/v1/cluster/members", m, &out)
}

func (cl Cluster) RemoveMember(ctx context.Context, id string) error {
	return cl.c.delete(ctx, pathf("/v1/cluster/members/%s", id), nil)
}

// JoinToken creates an edge join token.
func (cl Cluster) JoinToken(ctx context.Context, r JoinTokenCreate) (string, error) {
	var out JoinToken
	return out.Token, cl.c.post(ctx, "/v1/cluster/join-tokens", r, &out)
}

// CreateJoinToken creates a single-use edge join token and says when it
// expires.
func (cl Cluster) CreateJoinToken(ctx context.Context, r JoinTokenCreate) (JoinToken, error) {
	var out JoinToken
	return out, cl.c.post(ctx, "/v1/cluster/join-tokens", r, &out)
}

// Snapshot streams the whole state as a snapshot file; the caller closes
// it. The client's timeout does not apply: it is as long as the state is.
func (cl Cluster) Snapshot(ctx context.Context) (io.ReadCloser, error) {
	resp, err := cl.c.do(ctx, request{method: http.MethodGet, path: "/v1/cluster/snapshot", noTimeout: true})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Restore replaces the whole state with a snapshot file. open returns the
// file from its start with its length; it is called again for each node
// tried and each redirect followed.
func (cl Cluster) Restore(ctx context.Context, open func() (io.Reader, int64, error)) error {
	return cl.c.call(ctx, request{method: http.MethodPost, path: "/v1/cluster/restore", raw: open, noTimeout: true}, nil)
}

// Nodes is the edge fleet and routing. Every call needs a cluster admin.
type Nodes struct{ c *Client }

func (c *Client) Nodes() Nodes { return Nodes{c} }

func (n Nodes) List(ctx context.Context) ([]Node, error) {
	var out List[Node]
	return out.Items, n.c.get(ctx, "/v1/nodes", nil, &out)
}

// Drain stops new publishes and viewers going to the edge; running
// sessions go on.
func (n Nodes) Drain(ctx context.Context, id string) error {
	return n.c.post(ctx, pathf("/v1/nodes/%s/drain", id), nil, nil)
}

// Undrain lifts the edge's drain order.
func (n Nodes) Undrain(ctx context.Context, id string) error {
	return n.c.delete(ctx, pathf("/v1/nodes/%s/drain", id), nil)
}

// Route explains where a viewer at ip (empty: the caller) is sent for
// playbackID, with every candidate's score.
func (n Nodes) Route(ctx context.Context, playbackID, ip string) (Route, error) {
	q := url.Values{"playback_id": {playbackID}}
	if ip != "" {
		q.Set("ip", ip)
	}
	var out Route
	return out, n.c.get(ctx, "/v1/route", q, &out)
}

// Play files: what a viewer asks /v1/play for.
const (
	PlayPlaylist       = ".m3u8"
	PlayThumbnail      = "/thumbnail.jpg"
	PlayStoryboardJPEG = "/storyboard.jpg"
	PlayStoryboardVTT  = "/storyboard.vtt"
)

// PlayCaptions is the PlayURL file of an asset's WebVTT captions in lang.
func PlayCaptions(lang string) string { return "/captions/" + url.PathEscape(lang) + ".vtt" }

// PlayURL is the viewer's URL of a playback id's file (PlayPlaylist, …)
// on the node that answered last, with token (when not empty) in the
// query.
func (c *Client) PlayURL(playbackID, file, token string) string {
	u := c.Addr() + "/v1/play/" + url.PathEscape(playbackID) + file
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	return u
}

// Play asks /v1/play where a viewer is sent for a playback id's file and
// returns the edge URL of its redirect, without following it. A conflict
// (IsConflict) when the stream is not live or the asset not ready.
func (c *Client) Play(ctx context.Context, playbackID, file, token string) (string, error) {
	var q url.Values
	if token != "" {
		q = url.Values{"token": {token}}
	}
	r := request{method: http.MethodGet, path: "/v1/play/" + url.PathEscape(playbackID) + file, query: q, noRedirect: true}
	resp, err := c.do(ctx, r)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || loc == "" {
		return "", &Error{Status: resp.StatusCode, Message: "no redirect from /v1/play", Method: r.method, Path: r.path}
	}
	return loc, nil
}

// Ready reports whether the node that answers knows a leader and has
// applied the cluster meta (/readyz); an error when it is not ready.
func (c *Client) Ready(ctx context.Context) error {
	return c.get(ctx, "/readyz", nil, nil)
}
