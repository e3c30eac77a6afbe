package api

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// TestOpenAPIMatchesRouter walks the router and the document: every route
// served is documented and every documented route is served.
func TestOpenAPIMatchesRouter(t *testing.T) {
	t.Parallel()
	h := &Handler{metrics: &metrics{handler: http.NotFoundHandler()}}
	routes := map[string]bool{}
	err := chi.Walk(h.routes(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	raw, _ := json.Marshal(buildOpenAPI())
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	for r := range routes {
		if !documented[r] {
			t.Errorf("route %s is served but not in the OpenAPI document", r)
		}
	}
	for r := range documented {
		if !routes[r] {
			t.Errorf("route %s is documented but not served", r)
		}
	}
	if len(routes) < 30 {
		t.Fatalf("walked only %d routes", len(routes))
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
	for _, r := range apiRoutes {
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
	stream := schemas["streamView"].(obj)
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
	if req := schemas["createStreamRequest"].(obj); req["additionalProperties"] != false {
		t.Error("request schemas must refuse unknown fields, as the API does")
	}
}
