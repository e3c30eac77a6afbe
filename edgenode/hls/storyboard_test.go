package hls

import "testing"

func TestRewriteStoryboard(t *testing.T) {
	src := "WEBVTT\n\n00:00:00.000 --> 00:00:05.000\nstoryboard.jpg#xywh=0,0,160,90\r\n\nNOTE a note.jpg\n00:00:05.000 --> 00:00:07.500\nhttps://cdn.example/s.jpg#xywh=160,0,160,90\nstoryboard.jpg?token=old#xywh=320,0,160,90"
	want := "WEBVTT\n\n00:00:00.000 --> 00:00:05.000\nstoryboard.jpg?token=T#xywh=0,0,160,90\r\n\nNOTE a note.jpg\n00:00:05.000 --> 00:00:07.500\nhttps://cdn.example/s.jpg#xywh=160,0,160,90\nstoryboard.jpg?token=T#xywh=320,0,160,90"
	if got := string(RewriteStoryboard([]byte(src), "token=T")); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := RewriteStoryboard([]byte(src), ""); string(got) != src {
		t.Error("empty query changed the file")
	}
}

func FuzzRewriteStoryboard(f *testing.F) {
	f.Add([]byte("WEBVTT\n\n00:00.000 --> 00:01.000\nsb.jpg#xywh=0,0,1,1\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		out := RewriteStoryboard(src, "token=T")
		if len(out) < len(src) {
			t.Fatalf("output shorter than input")
		}
	})
}
