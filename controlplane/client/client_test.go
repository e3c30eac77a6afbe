package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/testutil"
)

// server starts an httptest server on 127.0.0.1 (httptest's default).
func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func newClient(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorDecoding(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		status   int
		body     string
		want     client.Error
		notFound bool
		conflict bool
	}{
		{"api shape", 404, `{"error":{"code":"not_found","message":"stream str_1 not found"}}`,
			client.Error{Status: 404, Code: "not_found", Message: "stream str_1 not found"}, true, false},
		{"conflict", 409, `{"error":{"code":"conflict","message":"job job_1 already succeeded"}}`,
			client.Error{Status: 409, Code: "conflict", Message: "job job_1 already succeeded"}, false, true},
		{"proxy page", 502, `<html>bad gateway</html>`, client.Error{Status: 502, Message: "bad gateway"}, false, false},
		{"empty", 500, ``, client.Error{Status: 500, Message: "internal server error"}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := server(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			_, err := newClient(t, client.Config{Addrs: []string{s.URL}}).Streams().Get(context.Background(), "str_1")
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *client.Error", err, err)
			}
			want := tc.want
			want.Method, want.Path = "GET", "/v1/streams/str_1"
			if *e != want {
				t.Fatalf("err = %+v, want %+v", *e, want)
			}
			if client.IsNotFound(err) != tc.notFound || client.IsConflict(err) != tc.conflict {
				t.Fatalf("IsNotFound %v IsConflict %v", client.IsNotFound(err), client.IsConflict(err))
			}
			if client.StatusOf(fmt.Errorf("wrapped: %w", err)) != tc.status {
				t.Fatal("StatusOf does not see through wrapping")
			}
		})
	}
	if got := (&client.Error{Status: 404, Code: "not_found", Message: "gone"}).Error(); got != "gone (HTTP 404 not_found)" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestFailover(t *testing.T) {
	t.Parallel()
	var got http.Header
	var calls int
	live := server(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		got = r.Header.Clone()
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		json.NewEncoder(w).Encode(client.StreamCreated{Stream: client.Stream{ID: "str_1", Name: "demo"}, StreamKey: "k"})
	})
	dead := "http://" + testutil.FreeAddr(t)
	c := newClient(t, client.Config{Addrs: []string{dead, live.URL}, Token: "lsk_x", Org: "org_1", Consistent: true, Timeout: 5 * time.Second})
	ctx := testutil.Context(t, 10*time.Second)

	s, err := c.Streams().Get(ctx, "str_1")
	if err != nil || s.ID != "str_1" || s.Name != "demo" {
		t.Fatalf("Get = %+v, %v", s, err)
	}
	if c.Addr() != live.URL {
		t.Fatalf("Addr = %s, want the live node %s", c.Addr(), live.URL)
	}
	if got.Get("Authorization") != "Bearer lsk_x" || got.Get("X-Livestreams-Org") != "org_1" || got.Get("X-Livestreams-Consistent") != "1" {
		t.Fatalf("headers %v", got)
	}
	// A write whose dial failed is safe to send elsewhere too; it goes to
	// the node that answered last, first.
	created, err := c.Streams().Create(ctx, client.StreamCreate{Name: "demo"})
	if err != nil || created.StreamKey != "k" || got.Get("X-Livestreams-Consistent") != "" {
		t.Fatalf("Create = %+v, %v (headers %v)", created, err, got)
	}
	if calls != 2 {
		t.Fatalf("live node got %d calls, want 2", calls)
	}

	// Every node down: a *ConnError naming them.
	down := newClient(t, client.Config{Addrs: []string{dead, "http://" + testutil.FreeAddr(t)}})
	_, err = down.Streams().List(ctx)
	var ce *client.ConnError
	if !errors.As(err, &ce) || len(ce.Addrs) != 2 || !strings.Contains(err.Error(), "cannot reach the control plane") {
		t.Fatalf("err = %v, want a ConnError", err)
	}
}

// TestNoRepeatAfterSend checks that a write a node may have applied is not
// sent to another node.
func TestNoRepeatAfterSend(t *testing.T) {
	t.Parallel()
	hang := server(t, func(w http.ResponseWriter, r *http.Request) {
		// Take the request, then drop the connection without an answer.
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	})
	var other int
	second := server(t, func(w http.ResponseWriter, r *http.Request) { other++ })
	c := newClient(t, client.Config{Addrs: []string{hang.URL, second.URL}})
	_, err := c.Streams().Create(context.Background(), client.StreamCreate{Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "may have been applied") || other != 0 {
		t.Fatalf("err = %v, second node calls %d", err, other)
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	const total, limit = 7, 3
	var queries []string
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		start := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			start, _ = strconv.Atoi(strings.TrimPrefix(c, "c"))
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		p := client.Page[client.Asset]{Items: []client.Asset{}}
		for i := start; i < min(start+n, total); i++ {
			p.Items = append(p.Items, client.Asset{ID: fmt.Sprintf("ast_%d", i)})
		}
		if start+n < total {
			p.NextCursor = fmt.Sprintf("c%d", start+n)
		}
		json.NewEncoder(w).Encode(p)
	})
	c := newClient(t, client.Config{Addrs: []string{s.URL}})
	ctx := context.Background()

	first, err := c.Assets().List(ctx, client.AssetFilter{Status: "ready", ListOptions: client.ListOptions{Limit: limit}})
	if err != nil || len(first.Items) != limit || first.NextCursor != "c3" {
		t.Fatalf("first page = %+v, %v", first, err)
	}
	if queries[0] != "limit=3&status=ready" {
		t.Fatalf("query = %q", queries[0])
	}

	var ids []string
	for a, err := range c.Assets().All(ctx, client.AssetFilter{ListOptions: client.ListOptions{Limit: limit}}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	if len(ids) != total || ids[0] != "ast_0" || ids[total-1] != "ast_6" {
		t.Fatalf("All yielded %v", ids)
	}
	if got := queries[len(queries)-1]; got != "cursor=c6&limit=3" {
		t.Fatalf("last query %q", got)
	}

	// Stopping early fetches no further page.
	before := len(queries)
	for range c.Assets().All(ctx, client.AssetFilter{ListOptions: client.ListOptions{Limit: limit}}) {
		break
	}
	if len(queries) != before+1 {
		t.Fatalf("%d pages fetched for one item", len(queries)-before)
	}
}

func TestPaginationError(t *testing.T) {
	t.Parallel()
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":{"code":"forbidden","message":"not allowed"}}`)
	})
	c := newClient(t, client.Config{Addrs: []string{s.URL}})
	n := 0
	for _, err := range c.Jobs().All(context.Background(), client.JobFilter{}) {
		n++
		if client.StatusOf(err) != http.StatusForbidden {
			t.Fatalf("err = %v", err)
		}
	}
	if n != 1 {
		t.Fatalf("yielded %d times, want the error once", n)
	}
}

func TestPlay(t *testing.T) {
	t.Parallel()
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/play/pb_1.m3u8" || r.URL.Query().Get("token") != "tok" {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, "http://edge.example/hls/pb_1/master.m3u8?token=tok", http.StatusFound)
	})
	c := newClient(t, client.Config{Addrs: []string{s.URL}})
	loc, err := c.Play(context.Background(), "pb_1", client.PlayPlaylist, "tok")
	if err != nil || loc != "http://edge.example/hls/pb_1/master.m3u8?token=tok" {
		t.Fatalf("Play = %q, %v", loc, err)
	}
	if u := c.PlayURL("pb_1", client.PlayThumbnail, ""); u != s.URL+"/v1/play/pb_1/thumbnail.jpg" {
		t.Fatalf("PlayURL = %s", u)
	}
}

func TestNewChecksAddrs(t *testing.T) {
	t.Parallel()
	for _, addrs := range [][]string{nil, {"127.0.0.1:4646"}, {"ftp://x"}} {
		if _, err := client.New(client.Config{Addrs: addrs}); err == nil {
			t.Errorf("New(%v) took it", addrs)
		}
	}
}

func TestKeepAnswer(t *testing.T) {
	t.Parallel()
	const body = `{"id":"str_1","name":"demo","added_later":true}`
	s := server(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
	c := newClient(t, client.Config{Addrs: []string{s.URL}})
	var raw []byte
	st, err := c.Streams().Get(client.KeepAnswer(context.Background(), &raw), "str_1")
	if err != nil || st.Name != "demo" || string(raw) != body {
		t.Fatalf("Get = %+v, %v; raw %q", st, err, raw)
	}
}
