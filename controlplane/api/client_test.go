package api

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestGoClient drives every /v1 route through package client against a
// real node: the client's paths, methods and bodies are the server's, and
// what the server encodes decodes into the same types with the values
// the server meant.
func TestGoClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	ctx := testutil.Context(t, 60*time.Second)
	anon := e.anon.typed()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Auth: signup is closed after the first owner; login, me.
	_, err := anon.Auth().Signup(ctx, client.Signup{Email: "x@example.com", Password: testPassword})
	if client.StatusOf(err) != 403 {
		t.Fatalf("second signup: %v, want 403", err)
	}
	login, err := anon.Auth().Login(ctx, client.Login{Email: "root@example.com", Password: testPassword})
	must("login", err)
	if login.Token == "" || login.User.Email != "root@example.com" || !login.User.Admin || login.ExpiresAt.Before(time.Now()) {
		t.Fatalf("login = %+v", login)
	}
	_, err = anon.Auth().Login(ctx, client.Login{Email: "root@example.com", Password: "wrong"})
	if !client.IsUnauthorized(err) {
		t.Fatalf("wrong password: %v", err)
	}
	root := anon.As(login.Token, e.orgA)
	me, err := root.Auth().Me(ctx)
	must("me", err)
	if me.OrgID != e.orgA || me.Role != "owner" || !me.ClusterAdmin || me.User == nil || len(me.Orgs) != 1 {
		t.Fatalf("me = %+v", me)
	}

	// An API key to act with from here on.
	key, err := root.APIKeys().Create(ctx, client.APIKeyCreate{Name: "go client", Role: "owner", ClusterAdmin: true})
	must("create API key", err)
	if !strings.HasPrefix(key.Key, "lsk_") || key.OrgID != e.orgA || key.Role != "owner" || !key.ClusterAdmin || key.RevokedAt != nil {
		t.Fatalf("API key = %+v", key)
	}
	c := anon.As(key.Key, "")
	keys, err := c.APIKeys().List(ctx)
	must("list API keys", err)
	if len(keys) != 1 || keys[0].ID != key.ID || keys[0].Prefix == "" {
		t.Fatalf("API keys = %+v", keys)
	}
	tmp, err := c.APIKeys().Create(ctx, client.APIKeyCreate{Name: "tmp"})
	must("create API key", err)
	must("revoke API key", c.APIKeys().Revoke(ctx, tmp.ID))

	// Orgs, members, users.
	orgB, err := root.Orgs().Create(ctx, client.OrgCreate{Name: "Org B"})
	must("create org", err)
	got, err := root.Orgs().Get(ctx, orgB.ID)
	must("get org", err)
	if got != orgB || !got.CreatedAt.Equal(orgB.CreatedAt) {
		t.Fatalf("org = %+v, want %+v", got, orgB)
	}
	orgs, err := root.Orgs().List(ctx)
	must("list orgs", err)
	if len(orgs) != 2 {
		t.Fatalf("orgs = %+v", orgs)
	}
	u, err := c.Users().Create(ctx, client.UserCreate{Email: "bob@example.com", Password: testPassword, Name: "Bob"})
	must("create user", err)
	inv, err := root.Orgs().Invite(ctx, orgB.ID, client.InvitationCreate{Email: "bob@example.com", Role: "member"})
	must("invite", err)
	bobLogin, err := anon.Auth().Login(ctx, client.Login{Email: "bob@example.com", Password: testPassword})
	must("log in as bob", err)
	bob := anon.As(bobLogin.Token, "")
	mine, err := bob.Invitations().List(ctx)
	must("list invitations", err)
	if len(mine) != 1 || mine[0].ID != inv.ID || mine[0].OrgName != "Org B" {
		t.Fatalf("bob's invitations = %+v, want %s", mine, inv.ID)
	}
	if _, err := bob.Invitations().Accept(ctx, inv.ID); err != nil {
		t.Fatalf("accept: %v", err)
	}
	m, err := root.Orgs().PutMember(ctx, orgB.ID, u.ID, client.MemberPut{Role: "viewer"})
	must("put member", err)
	if m.UserID != u.ID || m.Email != "bob@example.com" || m.Role != "viewer" {
		t.Fatalf("member = %+v", m)
	}
	members, err := root.Orgs().Members(ctx, orgB.ID)
	must("list members", err)
	if len(members) != 2 {
		t.Fatalf("members = %+v", members)
	}
	must("remove member", root.Orgs().RemoveMember(ctx, orgB.ID, u.ID))
	must("delete org", root.Orgs().Delete(ctx, orgB.ID))
	if _, err := root.Orgs().Get(ctx, orgB.ID); !client.IsNotFound(err) {
		t.Fatalf("deleted org: %v", err)
	}

	// Streams.
	rec := false
	s, err := c.Streams().Create(ctx, client.StreamCreate{Name: "talk", PlaybackPolicy: "signed", Recording: &rec, LatencyMode: "low"})
	must("create stream", err)
	if s.StreamKey == "" || s.PlaybackPolicy != "signed" || s.Recording || s.LatencyMode != "low" || s.Status != "idle" || s.IngestURL == "" {
		t.Fatalf("stream = %+v", s)
	}
	name, off := "renamed", true
	up, err := c.Streams().Update(ctx, s.ID, client.StreamUpdate{Name: &name, Disabled: &off})
	must("update stream", err)
	if up.Name != name || !up.Disabled || up.LatencyMode != "low" {
		t.Fatalf("updated stream = %+v", up)
	}
	k, err := c.Streams().Key(ctx, s.ID)
	must("stream key", err)
	fresh, err := c.Streams().ResetKey(ctx, s.ID)
	must("reset key", err)
	if k != s.StreamKey || fresh == k || fresh == "" {
		t.Fatal("reset-key did not answer a new key")
	}
	startSession(t, e.n, s.ID, e.orgA, "ses_go", time.Now().Add(-time.Minute))
	live, err := c.Streams().Get(ctx, s.ID)
	must("get stream", err)
	if live.Status != "active" || live.CurrentSession == nil || live.CurrentSession.Source == nil || live.CurrentSession.Source.Width != 1280 {
		t.Fatalf("live stream = %+v", live)
	}
	endSession(t, e.n, "ses_go")
	sessions, err := c.Streams().Sessions(ctx, s.ID)
	must("sessions", err)
	if len(sessions) != 1 || sessions[0].EndedAt == nil || sessions[0].EndReason != "publisher_closed" {
		t.Fatalf("sessions = %+v", sessions)
	}
	in, err := c.Streams().Ingest(ctx, s.ID, "192.0.2.7")
	must("ingest", err)
	if in.EdgeID != "edge-a" || in.RTMPURL == "" {
		t.Fatalf("ingest = %+v", in)
	}
	streams, err := c.Streams().List(ctx)
	must("list streams", err)
	if len(streams) != 1 || streams[0].ID != s.ID {
		t.Fatalf("streams = %+v", streams)
	}

	// Signing keys and tokens; play.
	sk, err := c.SigningKeys().Create(ctx, client.SigningKeyCreate{})
	must("create signing key", err)
	if sk.PrivatePEM == "" || !sk.CanMint {
		t.Fatalf("signing key = %+v", sk)
	}
	ttl := int64(60)
	tok, err := c.SigningKeys().Mint(ctx, sk.ID, client.TokenMint{PlaybackID: s.PlaybackID, TTLSeconds: &ttl})
	must("mint", err)
	if tok.Token == "" || time.Until(tok.ExpiresAt) > 61*time.Second {
		t.Fatalf("token = %+v", tok)
	}
	sks, err := c.SigningKeys().List(ctx)
	must("list signing keys", err)
	if len(sks) != 1 || sks[0].ID != sk.ID {
		t.Fatalf("signing keys = %+v", sks)
	}
	if _, err := c.Play(ctx, s.PlaybackID, client.PlayPlaylist, tok.Token); !client.IsConflict(err) {
		t.Fatalf("play of a stream not live: %v, want 409", err)
	}
	must("revoke signing key", c.SigningKeys().Revoke(ctx, sk.ID))

	// Assets, uploads, clips, jobs.
	size := int64(1 << 20)
	upl, err := c.Assets().Upload(ctx, client.UploadCreate{Size: &size})
	must("upload", err)
	if upl.Asset.Status != "preparing" || upl.UploadURL == "" || upl.Method != "PUT" || upl.MaxBytes < size {
		t.Fatalf("upload = %+v", upl)
	}
	ready := e.readyAsset(e.orgA)
	a, err := c.Assets().Get(ctx, ready.ID)
	must("get asset", err)
	if a.Status != "ready" || len(a.Tracks) != 2 || len(a.Renditions) != 1 || a.ReadyAt == nil || a.PlaybackURL == "" || a.StoryboardURL == "" {
		t.Fatalf("asset = %+v", a)
	}
	loc, err := c.Play(ctx, a.PlaybackID, client.PlayPlaylist, "")
	must("play asset", err)
	if !strings.HasPrefix(loc, "http://edge-a.test:8081/") {
		t.Fatalf("play redirect = %q", loc)
	}
	signed := "signed"
	a, err = c.Assets().Update(ctx, ready.ID, client.AssetUpdate{PlaybackPolicy: &signed})
	must("update asset", err)
	if a.PlaybackPolicy != "signed" {
		t.Fatalf("updated asset = %+v", a)
	}
	start, end := 1.0, 5.0
	clip, err := c.Assets().Clip(ctx, ready.ID, client.ClipCreate{Start: &start, End: &end})
	must("clip", err)
	if clip.Asset.Type != "clip" || clip.Asset.SourceAssetID != ready.ID || clip.Job.State != "queued" ||
		clip.Job.Payload == nil || clip.Job.Payload.Start == nil || *clip.Job.Payload.Start != start {
		t.Fatalf("clip = %+v", clip)
	}
	page, err := c.Assets().List(ctx, client.AssetFilter{ListOptions: client.ListOptions{Limit: 1}})
	must("list assets", err)
	if len(page.Items) != 1 || page.NextCursor == "" {
		t.Fatalf("first page of assets = %+v", page)
	}
	var ids []string
	for a, err := range c.Assets().All(ctx, client.AssetFilter{ListOptions: client.ListOptions{Limit: 1}}) {
		must("all assets", err)
		ids = append(ids, a.ID)
	}
	if len(ids) != 3 {
		t.Fatalf("all assets = %v, want the upload, the ready one and the clip", ids)
	}
	jobs, err := c.Jobs().List(ctx, client.JobFilter{AssetID: clip.Asset.ID})
	must("list jobs", err)
	if len(jobs.Items) != 1 || jobs.Items[0].ID != clip.Job.ID {
		t.Fatalf("jobs = %+v", jobs)
	}
	j, err := c.Jobs().Get(ctx, clip.Job.ID)
	must("get job", err)
	if j.Type != "clip" || j.History == nil {
		t.Fatalf("job = %+v", j)
	}
	j, err = c.Jobs().Cancel(ctx, clip.Job.ID)
	must("cancel job", err)
	if j.State != "cancelled" || !j.CancelRequested {
		t.Fatalf("cancelled job = %+v", j)
	}
	must("delete asset", c.Assets().Delete(ctx, upl.Asset.ID))

	// The cluster, the fleet, routing.
	st, err := c.Cluster().Status(ctx)
	must("cluster status", err)
	if st.ClusterID != e.meta.ClusterID || st.LeaderID != "cp1" || len(st.Nodes) != 1 || !st.Nodes[0].Voter {
		t.Fatalf("cluster = %+v", st)
	}
	jt, err := c.Cluster().JoinToken(ctx, client.JoinTokenCreate{Description: "edge"})
	must("join token", err)
	if !strings.HasPrefix(jt, "ljt_") {
		t.Fatalf("join token %q", jt)
	}
	if _, err := c.Cluster().AddMember(ctx, client.ClusterMember{ID: "cp9"}); client.StatusOf(err) != 400 {
		t.Fatalf("add member without addresses: %v, want 400", err)
	}
	if err := c.Cluster().RemoveMember(ctx, "cp9"); err != nil && client.StatusOf(err) == 0 {
		t.Fatalf("remove member: %v", err) // an API answer either way; not a transport failure
	}
	snap, err := c.Cluster().Snapshot(ctx)
	must("snapshot", err)
	raw, err := io.ReadAll(snap)
	snap.Close()
	must("read snapshot", err)
	must("restore", c.Cluster().Restore(ctx, func() (io.Reader, int64, error) { return bytes.NewReader(raw), int64(len(raw)), nil }))
	nodes, err := c.Nodes().List(ctx)
	must("nodes", err)
	if len(nodes) != 1 || nodes[0].ID != "edge-a" || nodes[0].RTMPURL == "" {
		t.Fatalf("nodes = %+v", nodes)
	}
	// No edge is registered in the state: the answer is the server's 404.
	if err := c.Nodes().Drain(ctx, "edge-a"); !client.IsNotFound(err) {
		t.Fatalf("drain of an unregistered edge: %v, want 404", err)
	}
	if err := c.Nodes().Undrain(ctx, "edge-a"); !client.IsNotFound(err) {
		t.Fatalf("undrain of an unregistered edge: %v, want 404", err)
	}
	if _, err := c.Nodes().Route(ctx, s.PlaybackID, "192.0.2.7"); !client.IsConflict(err) {
		t.Fatalf("route of a stream not live: %v, want 409", err)
	}
	must("delete stream", c.Streams().Delete(ctx, s.ID))
	must("ready", c.Ready(ctx))
}
