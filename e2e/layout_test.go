package e2e

import (
	"bufio"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestLayout enforces the boundaries of ARCHITECTURE.md over every .go file
// of the module, tests included: nothing under controlplane/ reaches
// edgenode/ or the reverse, even through another package; shared/ and
// protocol/ reach neither side; and what assembles both sides (the dev
// cluster, these tests) lives only at the root or under e2e/.
func TestLayout(t *testing.T) {
	t.Parallel()
	g := importGraph(t, "..")
	side := func(pkg string) string {
		for _, s := range []string{"controlplane", "edgenode", "shared", "protocol"} {
			if pkg == s || strings.HasPrefix(pkg, s+"/") {
				return s
			}
		}
		return ""
	}
	forbidden := map[string][]string{
		"controlplane": {"edgenode"},
		"edgenode":     {"controlplane"},
		"shared":       {"controlplane", "edgenode"},
		"protocol":     {"controlplane", "edgenode"},
	}
	var dirs []string
	for dir := range g.tests {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		reached, order := g.reach(dir)
		sides := map[string]string{} // side -> the nearest package of it reached
		for _, pkg := range order {
			if s := side(pkg); s != "" && sides[s] == "" {
				sides[s] = pkg
			}
		}
		for _, bad := range forbidden[side(dir)] {
			if via := sides[bad]; via != "" {
				t.Errorf("%s (tests included) reaches %s/: %s", dir, bad, chain(reached, dir, via))
			}
		}
		if sides["controlplane"] != "" && sides["edgenode"] != "" && dir != "." && dir != "e2e" && !strings.HasPrefix(dir, "e2e/") {
			t.Errorf("%s assembles both sides (reaches %s and %s); assemblies live at the root or under e2e/",
				dir, sides["controlplane"], sides["edgenode"])
		}
	}
	if len(dirs) < 10 {
		t.Fatalf("found only %d packages under %s: the walk is broken", len(dirs), "..")
	}
}

// imports is the module's import graph by package directory (relative to
// the module root, "." for the root): build holds what a package's
// non-test files import, tests what its test files import as well.
type imports struct {
	module string
	build  map[string]map[string]bool
	tests  map[string]map[string]bool
}

func importGraph(t *testing.T, root string) *imports {
	t.Helper()
	g := &imports{module: modulePath(t, root), build: map[string]map[string]bool{}, tests: map[string]map[string]bool{}}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		for _, m := range []map[string]map[string]bool{g.build, g.tests} {
			if m[rel] == nil {
				m[rel] = map[string]bool{}
			}
		}
		for _, spec := range f.Imports {
			p, _ := strconv.Unquote(spec.Path.Value)
			var local string
			switch {
			case p == g.module:
				local = "."
			case strings.HasPrefix(p, g.module+"/"):
				local = strings.TrimPrefix(p, g.module+"/")
			default:
				continue
			}
			g.tests[rel][local] = true
			if !strings.HasSuffix(name, "_test.go") {
				g.build[rel][local] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// reach returns every module package dir's tests reach, with the package
// each was first reached from, and all of them nearest first.
func (g *imports) reach(dir string) (from map[string]string, order []string) {
	from = map[string]string{}
	for _, p := range sorted(g.tests[dir]) {
		if p != dir {
			from[p] = dir
			order = append(order, p)
		}
	}
	for i := 0; i < len(order); i++ {
		p := order[i]
		for _, q := range sorted(g.build[p]) {
			if _, seen := from[q]; !seen && q != dir {
				from[q] = p
				order = append(order, q)
			}
		}
	}
	return from, order
}

func sorted(set map[string]bool) []string {
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// chain explains how dir reaches pkg, from what reach(dir) returned.
func chain(from map[string]string, dir, pkg string) string {
	chain := []string{pkg}
	for p := pkg; from[p] != dir && from[p] != ""; p = from[p] {
		chain = append(chain, from[p])
	}
	chain = append(chain, dir)
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return strings.Join(chain, " -> ")
}

func modulePath(t *testing.T, root string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.TrimSpace(m)
		}
	}
	t.Fatal("go.mod names no module")
	return ""
}
