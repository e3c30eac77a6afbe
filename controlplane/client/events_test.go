package client

import (
	"errors"
	"strings"
	"testing"
)

func TestReadSSE(t *testing.T) {
	in := ": comment\nretry: 2000\n\nid: 1\nevent: a\ndata: {\"x\":1}\n\n" +
		"event: b\ndata: line one\ndata: line two\n\n" + ": heartbeat\n\n" + "id:2\ndata:nospace\n\n"
	var got []SSEMessage
	if err := ReadSSE(strings.NewReader(in), func(m SSEMessage) error { got = append(got, m); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []SSEMessage{{ID: "1", Event: "a", Data: `{"x":1}`}, {Event: "b", Data: "line one\nline two"}, {ID: "2", Data: "nospace"}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("message %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func FuzzReadSSE(f *testing.F) {
	for _, s := range []string{"", "id: 1\ndata: x\n\n", ": c\n\n", "data\n\n", "event: error\ndata: slow\n\n", "id:\ndata:\n\n\n",
		"data: " + strings.Repeat("x", 1000) + "\n\n"} {
		f.Add(s)
	}
	stop := errors.New("stop")
	f.Fuzz(func(t *testing.T, s string) {
		n := 0
		err := ReadSSE(strings.NewReader(s), func(m SSEMessage) error {
			if strings.Contains(m.ID, "\n") || strings.Contains(m.Event, "\n") {
				t.Fatalf("a field spans lines: %+v", m)
			}
			n++
			if n > len(s) {
				return stop
			}
			return nil
		})
		if errors.Is(err, stop) {
			t.Fatalf("more messages than bytes in %q", s)
		}
	})
}
