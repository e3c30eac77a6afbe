package rtmp

import (
	"strings"
	"testing"

	"github.com/livestreams/livestreams/edgenode/rtmp/amf0"
	"github.com/livestreams/livestreams/shared/mediatest"
)

// TestOnlyConfiguredApp: with Config.App set, a publish to another
// application is refused with a status that names the right one, before
// OnPublish is asked; the configured one, in every form clients send it,
// is accepted.
func TestOnlyConfiguredApp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		app, name string
		ok        bool
	}{
		{"live", "KEY1", true},
		{"live/KEY2", "", true},
		{"live?token=x", "KEY3", true},
		{"", "live/KEY4", true},
		{"other", "KEY5", false},
		{"Live", "KEY6", false},
		{"", "KEY7", false},
		{"other/KEY8", "", false},
	}
	for _, tc := range tests {
		rec := newPublishRecorder()
		addr, _ := startServer(t, Config{OnPublish: rec.OnPublish, App: "live"})
		c := dialClient(t, addr)
		c.connect(tc.app)
		sid := c.createStream()
		c.call(sid, "publish", nil, tc.name, "live")
		var st []any
		for range 10 {
			if st = c.readCommand(); st[0] == "onStatus" {
				break
			}
		}
		code, _ := amf0.LookupString(st[3], "code")
		desc, _ := amf0.LookupString(st[3], "description")
		if tc.ok {
			if code != "NetStream.Publish.Start" {
				t.Errorf("app %q name %q: %s %q, want accepted", tc.app, tc.name, code, desc)
			}
			continue
		}
		if code != "NetStream.Publish.BadName" || !strings.Contains(desc, "unknown application") || !strings.Contains(desc, "/live/") {
			t.Errorf("app %q name %q: %s %q, want BadName naming /live/", tc.app, tc.name, code, desc)
		}
		select {
		case <-rec.called:
			t.Errorf("app %q name %q: OnPublish asked for a refused application", tc.app, tc.name)
		default:
		}
	}
	if _, err := NewServer(Config{OnPublish: newPublishRecorder().OnPublish, App: "live/x"}); err == nil {
		t.Error("an App with a slash was accepted")
	}
}

// TestFFmpegWrongApp: ffmpeg shows the operator why its publish failed.
func TestFFmpegWrongApp(t *testing.T) {
	mediatest.RequireFFmpeg(t)
	t.Parallel()
	rec := newPublishRecorder()
	addr, logs := startServer(t, Config{OnPublish: rec.OnPublish, App: "live"})
	out, err := runFFmpeg(t, 1, "rtmp://"+addr+"/stream/"+testKey)
	if err == nil {
		t.Fatalf("ffmpeg published to a wrong application:\n%s", out)
	}
	if !strings.Contains(string(out), "unknown application: publish to rtmp://HOST/live/STREAM_KEY") {
		t.Errorf("ffmpeg output does not say why:\n%s", out)
	}
	select {
	case <-rec.called:
		t.Error("OnPublish asked for a wrong application")
	default: // ffmpeg read the refusal, so OnPublish would have run
	}
	if strings.Contains(logs.String(), testKey) {
		t.Errorf("the key reached the log:\n%s", logs.String())
	}
}
