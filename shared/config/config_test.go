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
