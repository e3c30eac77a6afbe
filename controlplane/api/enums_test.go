package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/livestreams/livestreams/controlplane/analytics"
	"github.com/livestreams/livestreams/controlplane/state"
)

// TestClientEnumsAgree: package client may not import the server's
// packages, so its `enum:` tags (which the OpenAPI document publishes)
// repeat the values of state, analytics and the API's error codes; this
// test holds them equal. Every enum tag in package client is
// either checked here against the values the server uses, or listed as one
// that no state constant backs.
func TestClientEnumsAgree(t *testing.T) {
	jobStates := []string{state.JobQueued, state.JobLeased, state.JobRunning, state.JobSucceeded, state.JobFailed, state.JobCancelled}
	backed := map[string][]string{
		"ErrorBody.Error.Code": slices.Collect(maps.Keys(codeStatus)),
		"Analytics.GroupBy":    {analytics.GroupMinute, analytics.GroupHour, analytics.GroupCountry, analytics.GroupCity, analytics.GroupEdge},
		"Stream.Status":        {state.StreamIdle, state.StreamActive},
		"Asset.Type":           {state.AssetRecording, state.AssetUpload, state.AssetClip},
		"Asset.Status":         {state.AssetPreparing, state.AssetReady, state.AssetErrored},
		"CaptionTrack.Status":  jobStates,
		"AssetJob.State":       jobStates,
		"Job.State":            jobStates,
	}
	// Values that come from elsewhere: the health handler, ffprobe's
	// stream kinds, HTTP, Raft.
	unbacked := map[string]bool{"Health.Status": true, "Track.Type": true, "Upload.Method": true, "ClusterNode.State": true}

	tags := clientEnumTags(t)
	for field, values := range tags {
		want, ok := backed[field]
		switch {
		case ok:
			got := slices.Sorted(slices.Values(values))
			if w := slices.Sorted(slices.Values(want)); !slices.Equal(got, w) {
				t.Errorf("client.%s enum tag lists %v; the server uses %v", field, got, w)
			}
		case !unbacked[field]:
			t.Errorf("client.%s has an enum tag this test does not check: add it to backed (or unbacked)", field)
		}
	}
	for field := range backed {
		if _, ok := tags[field]; !ok {
			t.Errorf("client.%s has no enum tag any more: update this test", field)
		}
	}
}

// clientEnumTags reads package client's source for struct fields with an
// `enum:` tag, by "Type.Field".
func clientEnumTags(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "client", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	// fields records the enum tags of st's fields, and of the structs
	// declared inline in them, under prefix.
	var fields func(prefix string, st *ast.StructType)
	fields = func(prefix string, st *ast.StructType) {
		for _, fld := range st.Fields.List {
			if len(fld.Names) == 0 {
				continue
			}
			path := prefix + "." + fld.Names[0].Name
			if inner, ok := fld.Type.(*ast.StructType); ok {
				fields(path, inner)
			}
			if fld.Tag == nil {
				continue
			}
			raw, err := strconv.Unquote(fld.Tag.Value)
			if err != nil {
				t.Fatalf("%s: tag %s: %v", path, fld.Tag.Value, err)
			}
			if e, ok := reflect.StructTag(raw).Lookup("enum"); ok {
				out[path] = strings.Split(e, ",")
			}
		}
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			spec, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := spec.Type.(*ast.StructType)
			if !ok {
				return true
			}
			fields(spec.Name.Name, st)
			return false
		})
	}
	if len(out) == 0 {
		t.Fatal("no enum tags found in package client")
	}
	return out
}
