package rtmp

import "testing"

func TestSplitPublishName(t *testing.T) {
	tests := []struct {
		app, name, wantApp, wantKey, wantQuery string
	}{
		{"live", "KEY", "live", "KEY", ""},
		{"live", "KEY?a=1&b=2", "live", "KEY", "a=1&b=2"},
		{"live/", "KEY", "live", "KEY", ""},
		{"live/KEY", "", "live", "KEY", ""},
		{"live/KEY", "KEY", "live", "KEY", ""},
		{"live?token=t", "KEY", "live", "KEY", "token=t"},
		{"live?token=t", "KEY?x=1", "live", "KEY", "x=1"},
		{"", "live/KEY", "live", "KEY", ""},
		{"", "KEY", "", "KEY", ""},
		{"live", "", "live", "", ""},
	}
	for _, tc := range tests {
		app, key, query := splitPublishName(tc.app, tc.name)
		if app != tc.wantApp || key != tc.wantKey || query != tc.wantQuery {
			t.Errorf("splitPublishName(%q, %q) = %q, %q, %q; want %q, %q, %q",
				tc.app, tc.name, app, key, query, tc.wantApp, tc.wantKey, tc.wantQuery)
		}
	}
}

func TestRedact(t *testing.T) {
	for key, want := range map[string]string{"": "…", "abcd": "…", "abcde": "abcd…", testKey: "sk_l…"} {
		if got := Redact(key); got != want {
			t.Errorf("Redact(%q) = %q, want %q", key, got, want)
		}
	}
}
