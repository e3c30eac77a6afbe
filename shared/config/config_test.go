package config

import (
	"io"
	"strings"
	"testing"
)

func TestEnvFallbackAndPrecedence(t *testing.T) {
	env := map[string]string{"LIVESTREAMS_DATA_DIR": "/env", "LIVESTREAMS_HTTP_ADDR": ":9", "LIVESTREAMS_BOOTSTRAP": "true"}
	fs := NewFlagSet("x", "", io.Discard)
	dir := fs.String("data-dir", "", "")
	addr := fs.String("http-addr", ":8080", "")
	boot := fs.Bool("bootstrap", false, "")
	if err := Parse(fs, []string{"--http-addr", ":1"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *dir != "/env" || *addr != ":1" || !*boot {
		t.Fatalf("dir=%q addr=%q boot=%v", *dir, *addr, *boot)
	}
}

func TestBadEnvNamesVariableAndFlag(t *testing.T) {
	fs := NewFlagSet("x", "", io.Discard)
	fs.Int("max-conns", 1, "")
	err := Parse(fs, nil, func(k string) string {
		if k == "LIVESTREAMS_MAX_CONNS" {
			return "many"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "LIVESTREAMS_MAX_CONNS") || !strings.Contains(err.Error(), "--max-conns") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnknownEnvStopsParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		want    []string // substrings of the error; nil means no error
	}{
		{name: "known flags and client variables pass",
			environ: []string{"LIVESTREAMS_DATA_DIR=/d", "LIVESTREAMS_ADDR=http://x", "LIVESTREAMS_TOKEN=t", "LIVESTREAMS_ORG=o", "LIVESTREAMS_TEST_LOG=1", "PATH=/bin", "OTHER_GOSSIP_KEY=x"}},
		{name: "misspelt flag suggests the nearest",
			environ: []string{"LIVESTREAMS_GOSIP_KEY=k"},
			want:    []string{"LIVESTREAMS_GOSIP_KEY", "did you mean LIVESTREAMS_GOSSIP_KEY (--gossip-key)"}},
		{name: "retired variable named without a far-fetched guess",
			environ: []string{"LIVESTREAMS_S3_ENDPOINT=http://s3"},
			want:    []string{"LIVESTREAMS_S3_ENDPOINT: unknown setting for `livestreams edge`"}},
		{name: "an empty value is still refused",
			environ: []string{"LIVESTREAMS_BUCKET="},
			want:    []string{"LIVESTREAMS_BUCKET"}},
		{name: "every unknown variable is named",
			environ: []string{"LIVESTREAMS_A=1", "LIVESTREAMS_HTTP_ADR=:1"},
			want:    []string{"LIVESTREAMS_A:", "LIVESTREAMS_HTTP_ADR", "LIVESTREAMS_HTTP_ADDR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := NewFlagSet("edge", "", io.Discard)
			fs.String("data-dir", "", "")
			fs.String("gossip-key", "", "")
			fs.String("http-addr", "", "")
			fs.String("s3-access-key", "", "")
			err := ParseEnv(fs, nil, tc.environ)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseEnvFillsFlags(t *testing.T) {
	fs := NewFlagSet("x", "", io.Discard)
	dir := fs.String("data-dir", "", "")
	if err := ParseEnv(fs, nil, []string{"LIVESTREAMS_DATA_DIR=/a=b"}); err != nil {
		t.Fatal(err)
	}
	if *dir != "/a=b" {
		t.Fatalf("dir = %q", *dir)
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"GOSIP_KEY", "GOSSIP_KEY", 1}} {
		if got := distance(tc.a, tc.b); got != tc.d {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}
