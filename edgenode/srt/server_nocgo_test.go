//go:build !cgo

package srt

import (
	"context"
	"errors"
	"testing"
)

func TestRunWithoutCgo(t *testing.T) {
	s, err := NewServer(Config{Addr: "127.0.0.1:0",
		Authorize: func(context.Context, Request) (Settings, error) { return Settings{}, nil },
		Handle:    func(context.Context, *Conn) {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); !errors.Is(err, errNoLibsrt) {
		t.Fatalf("Run without cgo: %v, want errNoLibsrt", err)
	}
}
