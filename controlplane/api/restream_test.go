package api

import (
	"strings"
	"testing"
)

// TestRestreamTargets: targets per stream with presets, the key never in
// an answer (key_set and the last four characters only), edits, the
// enabled toggle and deletion; another org's stream has none.
func TestRestreamTargets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	const key = "yt-key-abcd-efgh-ijkl-9876"
	sid := str(e.admin.must(201, "POST", "/v1/streams", map[string]any{"name": "restreamed"}).json(t), "id")
	base := "/v1/streams/" + sid + "/restream-targets"
	member, viewer := e.user("member@example.com", e.orgA, "member"), e.user("viewer@example.com", e.orgA, "viewer")

	for _, bad := range []map[string]any{
		{"name": "no key", "preset": "youtube"},
		{"name": "custom without url", "preset": "custom", "key": key},
		{"name": "http url", "preset": "custom", "url": "http://example.com/app", "key": key},
		{"name": "creds in url", "preset": "custom", "url": "rtmp://u:p@example.com/app", "key": key},
		{"name": "unknown preset", "preset": "myspace", "key": key},
		{"name": "spaces", "preset": "twitch", "key": "a key with spaces"},
	} {
		a := e.admin.do("POST", base, bad)
		if a.status != 400 || a.code() != "invalid" {
			t.Errorf("create %v: %d %s, want 400 invalid", bad["name"], a.status, a.body)
		}
		if strings.Contains(string(a.body), key) {
			t.Errorf("a refusal quotes the key: %s", a.body)
		}
	}

	yt := e.admin.must(201, "POST", base, map[string]any{"name": "YouTube", "preset": "youtube", "key": key}).json(t)
	if yt["url"] != "rtmp://a.rtmp.youtube.com/live2" || yt["key_set"] != true || yt["key_last4"] != "9876" ||
		yt["enabled"] != true || yt["status"] != "idle" {
		t.Fatalf("created target %v", yt)
	}
	tid := str(yt, "id")
	custom := e.admin.must(201, "POST", base, map[string]any{"name": "Mine", "url": "rtmps://ingest.example.com:443/app",
		"key": "short", "enabled": false}).json(t)
	if custom["preset"] != "custom" || custom["key_last4"] != nil || custom["enabled"] != false {
		t.Fatalf("custom target %v", custom)
	}

	list := member.must(200, "GET", base, nil)
	if items := list.json(t)["items"].([]any); len(items) != 2 {
		t.Fatalf("list %s", list.body)
	}
	got := viewer.must(200, "GET", base+"/"+tid, nil)
	off := e.admin.must(200, "PATCH", base+"/"+tid, map[string]any{"enabled": false}).json(t)
	if off["enabled"] != false {
		t.Fatalf("after disabling: %v", off)
	}
	moved := e.admin.must(200, "PATCH", base+"/"+tid, map[string]any{"preset": "twitch", "key": "new-key-0000-1111-2222"}).json(t)
	if moved["url"] != "rtmp://live.twitch.tv/app" || moved["key_last4"] != "2222" {
		t.Fatalf("after moving to twitch: %v", moved)
	}
	for _, a := range []answer{list, got} {
		if strings.Contains(string(a.body), key) || strings.Contains(string(a.body), "sealed") {
			t.Fatalf("an answer holds the key or its sealed form: %s", a.body)
		}
	}
	e.admin.must(404, "GET", "/v1/streams/str_nope/restream-targets", nil)
	viewer.must(403, "POST", base, map[string]any{"name": "x", "preset": "kick", "key": key})
	e.admin.must(204, "DELETE", base+"/"+tid, nil)
	member.must(404, "GET", base+"/"+tid, nil)
}
