package objstore

import (
	"errors"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidateKey(t *testing.T) {
	valid := []string{
		"a", "orgs/o1/assets/a1/source.mp4", "a/b/c", "seg 1+é.m4s", "a..b", "a/b.", "x-_~!$&'()*+,;=:@%",
		strings.Repeat("k/", MaxKeyLen/2-1) + "kk", strings.Repeat("s", MaxSegmentLen) + "/x",
	}
	invalid := []string{
		"", "/a", "a/", "a//b", ".", "..", "../a", "a/..", "a/../b", ".hidden", "a/.meta", "a\x00b", "a\nb",
		"a\x7fb", `a\b`, "\xff", strings.Repeat("k/", MaxKeyLen/2) + "k", strings.Repeat("s", MaxSegmentLen+1),
	}
	for _, k := range valid {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range invalid {
		if err := ValidateKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if err := ValidateKey(strings.Repeat("x", 5000)); len(err.Error()) > 300 {
		t.Errorf("error for a long key is %d bytes long", len(err.Error()))
	}
	for p, ok := range map[string]bool{"": true, "a/": true, "a": true, "a/b/": true, "/": false, "a//": false, "../": false, "a/.x": false} {
		if err := ValidatePrefix(p); (err == nil) != ok {
			t.Errorf("ValidatePrefix(%q) = %v", p, err)
		}
	}
}

func TestAssetKeys(t *testing.T) {
	must := func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for got, want := range map[string]string{
		must(OrgPrefix("org_5kq")):                                   "orgs/org_5kq/",
		must(AssetPrefix("org_5kq", "ast_x7")):                       "orgs/org_5kq/assets/ast_x7/",
		must(AssetKey("org_5kq", "ast_x7", SourceFile)):              "orgs/org_5kq/assets/ast_x7/source.mp4",
		must(AssetKey("org_5kq", "ast_x7", ThumbnailFile)):           "orgs/org_5kq/assets/ast_x7/thumbnail.jpg",
		must(AssetKey("org_5kq", "ast_x7", StoryboardImageFile)):     "orgs/org_5kq/assets/ast_x7/storyboard.jpg",
		must(AssetKey("org_5kq", "ast_x7", StoryboardVTTFile)):       "orgs/org_5kq/assets/ast_x7/storyboard.vtt",
		must(AssetKey("org_5kq", "ast_x7", "hls/index.m3u8")):        "orgs/org_5kq/assets/ast_x7/hls/index.m3u8",
		must(RenditionKey("org_5kq", "ast_x7", "720p", "seg_1.m4s")): "orgs/org_5kq/assets/ast_x7/hls/720p/seg_1.m4s",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	for name, err := range map[string]error{
		"empty org":        func() error { _, err := AssetKey("", "a", SourceFile); return err }(),
		"org with slash":   func() error { _, err := AssetKey("o/x", "a", SourceFile); return err }(),
		"asset dot-dot":    func() error { _, err := AssetKey("o", "..", SourceFile); return err }(),
		"name climbs":      func() error { _, err := AssetKey("o", "a", "../../b/source.mp4"); return err }(),
		"name absolute":    func() error { _, err := AssetKey("o", "a", "/etc/passwd"); return err }(),
		"name empty":       func() error { _, err := AssetKey("o", "a", ""); return err }(),
		"rendition slash":  func() error { _, err := RenditionKey("o", "a", "720p/x", "seg"); return err }(),
		"file with slash":  func() error { _, err := RenditionKey("o", "a", "720p", "x/seg"); return err }(),
		"file dot-dot":     func() error { _, err := RenditionKey("o", "a", "720p", ".."); return err }(),
		"long asset id":    func() error { _, err := AssetPrefix("o", strings.Repeat("a", maxIDLen+1)); return err }(),
		"unicode org id":   func() error { _, err := OrgPrefix("örg"); return err }(),
		"whitespace asset": func() error { _, err := AssetPrefix("o", "a b"); return err }(),
	} {
		if !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: %v, want ErrInvalidKey", name, err)
		}
	}
}

// FuzzKey checks the properties the stores rely on: a key that passes
// ValidateKey is a clean, local, relative path of valid UTF-8 without NUL
// that stays inside any directory it is joined to, and it is usable as a
// prefix with or without a trailing slash.
func FuzzKey(f *testing.F) {
	for _, seed := range []string{
		"orgs/o1/assets/a1/source.mp4", "a", "../x", "a/../b", "..", ".", "/abs", "a//b", "a/", "a\x00b",
		"a\\..\\b", ".meta/x", "é/ü", "\xff", "a/.", "seg 1+%2e%2e.m4s", "C:/x", "a/b/c/../../..",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidateKey(key) != nil {
			return
		}
		if len(key) == 0 || len(key) > MaxKeyLen || !utf8.ValidString(key) || strings.ContainsRune(key, 0) {
			t.Fatalf("accepted %q: length, UTF-8 or NUL", key)
		}
		if path.Clean(key) != key || strings.HasPrefix(key, "/") || strings.Contains(key, "..") && strings.Contains("/"+key+"/", "/../") {
			t.Fatalf("accepted %q: not a clean relative path", key)
		}
		if !filepath.IsLocal(filepath.FromSlash(key)) {
			t.Fatalf("accepted %q: not local", key)
		}
		root := "/srv/objects"
		if j := filepath.Join(root, filepath.FromSlash(key)); !strings.HasPrefix(j, root+"/") {
			t.Fatalf("accepted %q: joins to %q, outside %s", key, j, root)
		}
		for seg := range strings.SplitSeq(key, "/") {
			if seg == "" || seg[0] == '.' || len(seg) > MaxSegmentLen || strings.ContainsAny(seg, "\\") {
				t.Fatalf("accepted %q: segment %q", key, seg)
			}
		}
		if ValidatePrefix(key) != nil || len(key) < MaxKeyLen && ValidatePrefix(key+"/") != nil {
			t.Fatalf("key %q is not a valid prefix", key)
		}
		if u := escapeKey(key); strings.Contains(u, "?") || strings.Contains(u, "#") || strings.Contains(u, "..") && strings.Contains("/"+u+"/", "/../") {
			t.Fatalf("key %q escapes to %q, which a URL would misread", key, u)
		}
	})
}

func TestCaptionsKeys(t *testing.T) {
	for _, lang := range []string{"en", "fr", "pt-BR", "zh-Hant", "es-419", "yue"} {
		f, err := CaptionsFile(lang)
		if err != nil || f != "captions/"+lang+".vtt" {
			t.Errorf("CaptionsFile(%q) = %q, %v", lang, f, err)
		}
		r, err := SubtitlesRendition(lang)
		if err != nil || r != "subs_"+lang {
			t.Errorf("SubtitlesRendition(%q) = %q, %v", lang, r, err)
		}
	}
	for _, lang := range []string{"", "e", "english", "EN", "en_US", "en-", "-en", "en/../x", "en-abcdefghi", "en\"", "en\n"} {
		if err := CheckLanguage(lang); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("CheckLanguage(%q) = %v, want ErrInvalidKey", lang, err)
		}
	}
}
