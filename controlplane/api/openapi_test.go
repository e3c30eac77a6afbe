package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/state"
)

// TestRouteTableRouterAndDocumentAgree holds the route table, the router
// built from it and the OpenAPI document made from it to one another: the
// same routes in all three, each behind the middlewares its group and
// access rule call for, in order, and documented with that access rule.
func TestRouteTableRouterAndDocumentAgree(t *testing.T) {
	t.Parallel()
	h := &Handler{cfg: Config{Now: time.Now}, log: slog.New(slog.DiscardHandler),
		metrics: &metrics{handler: http.NotFoundHandler()}, limiter: newLimiter(1, 1, 10)}

	table := map[string]route{}
	for _, rt := range routeTable() {
		key := rt.method + " " + rt.path
		if _, dup := table[key]; dup {
			t.Errorf("route %s is in the table twice", key)
		}
		if rt.serve == nil || rt.summary == "" || rt.status == 0 || rt.access.rule == "" {
			t.Errorf("route %s lacks a handler, summary, status or access rule", key)
		}
		if ungated := rt.access.rule == open.rule || rt.access.rule == anyCaller.rule || rt.access.rule == loginLimited.rule; ungated != (rt.access.gate == nil) {
			t.Errorf("route %s: access %q with a gate %v", key, rt.access.rule, rt.access.gate != nil)
		}
		// Only the snapshot streams take bodies and time as large as the state.
		if big := key == "GET /v1/cluster/snapshot" || key == "POST /v1/cluster/restore"; big != rt.snapshot {
			t.Errorf("route %s: in the snapshot group %v", key, rt.snapshot)
		}
		table[key] = rt
	}

	served := map[string]bool{}
	err := chi.Walk(h.routes(), func(method, path string, _ http.Handler, mws ...func(http.Handler) http.Handler) error {
		key := method + " " + path
		served[key] = true
		rt, ok := table[key]
		if !ok {
			t.Errorf("route %s is served but not in the route table", key)
			return nil
		}
		want := []middlewareCheck{is(withRequestID), is(h.withClientIP), is(h.observe), is(h.recoverer), is(h.corsHeaders), is(h.consistentReads)}
		if rt.snapshot {
			want = append(want, limits(maxRestoreBody))
		} else if rt.stream {
			want = append(want, limits(maxBody))
		} else {
			want = append(want, limits(maxBody), bounds(requestTimeout))
		}
		if rt.access.authenticated {
			want = append(want, is(h.authenticated))
		}
		if rt.access.gate != nil {
			want = append(want, admits(rt.access))
		}
		if len(mws) != len(want) {
			t.Errorf("route %s runs behind %d middlewares; its group and access call for %d", key, len(mws), len(want))
			return nil
		}
		for i, check := range want {
			if err := check(mws[i]); err != nil {
				t.Errorf("route %s, middleware %d: %v", key, i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range table {
		if !served[key] {
			t.Errorf("route %s is in the route table but not served", key)
		}
	}

	var doc struct {
		Paths map[string]map[string]struct {
			Description string            `json:"description"`
			Security    []json.RawMessage `json:"security"`
		} `json:"paths"`
	}
	raw, _ := json.Marshal(buildOpenAPI())
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	documented := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented++
			key := strings.ToUpper(method) + " " + path
			rt, ok := table[key]
			if !ok {
				t.Errorf("route %s is documented but not in the route table", key)
				continue
			}
			if want := "Access: " + rt.access.rule + "."; op.Description != want {
				t.Errorf("route %s is documented with %q, want %q", key, op.Description, want)
			}
			if open := op.Security != nil && len(op.Security) == 0; open == rt.access.authenticated {
				t.Errorf("route %s: documented as open %v, authenticated %v", key, open, rt.access.authenticated)
			}
		}
	}
	if documented != len(table) || len(served) != len(table) || len(table) < 30 {
		t.Fatalf("%d routes in the table, %d served, %d documented", len(table), len(served), documented)
	}
}

// middlewareCheck tells whether a middleware of a route is the one its
// place calls for. Middlewares made by a function are known by what they
// do (their code differs with where they were made); the others by their
// code.
type middlewareCheck func(func(http.Handler) http.Handler) error

func is(want func(http.Handler) http.Handler) middlewareCheck {
	return func(got func(http.Handler) http.Handler) error {
		g, w := reflect.ValueOf(got).Pointer(), reflect.ValueOf(want).Pointer()
		if g != w {
			return fmt.Errorf("%s, want %s", runtime.FuncForPC(g).Name(), runtime.FuncForPC(w).Name())
		}
		return nil
	}
}

// probe runs one request through mw alone and tells its status and
// whether it reached the handler behind, with what context.
func probe(mw func(http.Handler) http.Handler, req *http.Request) (status int, reached context.Context) {
	w := httptest.NewRecorder()
	mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = r.Context()
		w.WriteHeader(http.StatusNoContent)
	})).ServeHTTP(w, req)
	return w.Code, reached
}

// limits checks a body limit of n bytes.
func limits(n int64) middlewareCheck {
	return func(mw func(http.Handler) http.Handler) error {
		for _, size := range []int64{n, n + 1} {
			req := httptest.NewRequest("POST", "/", nil)
			req.ContentLength = size
			status, _ := probe(mw, req)
			if refused := status == http.StatusRequestEntityTooLarge; refused != (size > n) {
				return fmt.Errorf("a body of %d bytes answers %d; the limit is %d", size, status, n)
			}
		}
		return nil
	}
}

// bounds checks a request deadline of d.
func bounds(d time.Duration) middlewareCheck {
	return func(mw func(http.Handler) http.Handler) error {
		before := time.Now()
		_, ctx := probe(mw, httptest.NewRequest("GET", "/", nil))
		if ctx == nil {
			return fmt.Errorf("not a deadline: the request did not go through")
		}
		deadline, ok := ctx.Deadline()
		if !ok || deadline.Before(before.Add(d)) || deadline.After(time.Now().Add(d)) {
			return fmt.Errorf("the deadline is %v (set %v), want %v from the start", deadline, ok, d)
		}
		return nil
	}
}

// admits checks the gate of a rule: the callers just short of it are
// refused and the ones that meet it let through. An org named in the path
// needs the state to be checked; TestRoleMatrix does.
func admits(a access) middlewareCheck {
	return func(mw func(http.Handler) http.Handler) error {
		as := func(p *principal) int {
			req := httptest.NewRequest("GET", "/", nil)
			status, _ := probe(mw, req.WithContext(context.WithValue(req.Context(), keyPrincipal, p)))
			return status
		}
		var short, meets *principal
		switch {
		case a.orgInPath:
			return nil
		case a.role != "":
			below := []state.Role{"", state.RoleViewer, state.RoleMember, state.RoleAdmin}[a.role.Rank()-1]
			short = &principal{user: &state.User{}, orgID: "org_a", role: below}
			meets = &principal{user: &state.User{}, orgID: "org_a", role: a.role}
		case a.rule == userCaller.rule:
			short = &principal{key: &state.APIKey{}, orgID: "org_a", role: state.RoleOwner, clusterAdmin: true}
			meets = &principal{user: &state.User{}}
		case a.rule == clusterCaller.rule:
			short = &principal{user: &state.User{}, orgID: "org_a", role: state.RoleOwner}
			meets = &principal{key: &state.APIKey{}, clusterAdmin: true}
		case a.rule == rateLimited.rule:
			// One attempt a minute with a burst of one, shared by the
			// routes: the second attempt at the latest is refused.
			if as(nil) != http.StatusTooManyRequests && as(nil) != http.StatusTooManyRequests {
				return fmt.Errorf("not rate-limited")
			}
			return nil
		default:
			return fmt.Errorf("no check for the gate of access %q", a.rule)
		}
		if got := as(short); got != http.StatusForbidden {
			return fmt.Errorf("access %s: a caller short of it answers %d, want 403", a.rule, got)
		}
		if got := as(meets); got != http.StatusNoContent {
			return fmt.Errorf("access %s: a caller meeting it answers %d, want it through", a.rule, got)
		}
		return nil
	}
}

// TestContractTableMatchesRouter holds the router to docs/api.md itself:
// each row of its route table is served, and nothing else is.
func TestContractTableMatchesRouter(t *testing.T) {
	t.Parallel()
	md, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Skipf("docs/api.md: %v", err)
	}
	row := regexp.MustCompile("(?m)^\\| (GET|POST|PUT|PATCH|DELETE) \\| (/\\S+) \\|")
	contract := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(md), -1) {
		contract[m[1]+" "+m[2]] = true
	}
	served := map[string]bool{}
	for _, r := range routeTable() {
		served[r.method+" "+r.path] = true
	}
	var missing, extra []string
	for r := range contract {
		if !served[r] {
			missing = append(missing, r)
		}
	}
	for r := range served {
		if !contract[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 || len(contract) < 30 {
		t.Fatalf("docs/api.md has %d routes; not served: %v; served but not in the contract: %v", len(contract), missing, extra)
	}
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc := buildOpenAPI()
	schemas := doc["components"].(obj)["schemas"].(obj)
	// Schemas are named for their Go types, which may be aliases.
	stream := schemas[reflect.TypeFor[streamView]().Name()].(obj)
	props := stream["properties"].(obj)
	for _, f := range []string{"id", "status", "current_session", "ingest_url", "playback_url"} {
		if props[f] == nil {
			t.Errorf("streamView schema lacks %s", f)
		}
	}
	for name, s := range schemas {
		raw, _ := json.Marshal(s)
		for _, secret := range []string{`"password_hash"`, `"key_hash"`, `"key_sealed"`} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("schema %s names %s", name, secret)
			}
		}
	}
	seen := map[string]bool{}
	for path, item := range doc["paths"].(obj) {
		for method, op := range item.(obj) {
			id := op.(obj)["operationId"].(string)
			if seen[id] {
				t.Errorf("operationId %s of %s %s is not unique", id, method, path)
			}
			seen[id] = true
		}
	}
	if req := schemas[reflect.TypeFor[createStreamRequest]().Name()].(obj); req["additionalProperties"] != false {
		t.Error("request schemas must refuse unknown fields, as the API does")
	}
}
