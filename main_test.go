package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/livestreams/livestreams/controlplane/cli"
)

// TestUsageListsEveryCommand: `livestreams --help` names the servers and
// every admin command group the CLI dispatches (asset and job included).
func TestUsageListsEveryCommand(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--help", "-h", "help"} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{arg}, &stdout, &stderr); code != 0 {
			t.Fatalf("livestreams %s: exit %d: %s", arg, code, stderr.String())
		}
		words := map[string]bool{}
		for _, w := range strings.FieldsFunc(stdout.String(), func(r rune) bool { return r == ' ' || r == ',' || r == '\n' }) {
			words[w] = true
		}
		for _, name := range append([]string{"control", "edge", "dev"}, cli.Commands()...) {
			if !words[name] {
				t.Errorf("livestreams %s does not list %q:\n%s", arg, name, stdout.String())
			}
		}
		for _, group := range []string{"asset", "job", "stream", "signing-key", "nodes"} {
			if !words[group] {
				t.Errorf("livestreams %s does not list %q", arg, group)
			}
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "Usage:") {
		t.Errorf("livestreams with no command: exit %d, stderr %q", code, stderr.String())
	}
	if code := run(context.Background(), []string{"no-such-command"}, &stdout, &stderr); code != 2 {
		t.Errorf("an unknown command exits %d, want 2", code)
	}
}
