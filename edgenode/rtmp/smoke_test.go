package rtmp

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	rec := newPublishRecorder()
	addr, _ := startServer(t, Config{OnPublish: rec.OnPublish})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac", "-f", "flv", "rtmp://"+addr+"/live/secretkey123").CombinedOutput()
	t.Logf("ffmpeg: %v %s", err, out)
	req, sink := rec.waitCalled(t, time.Second)
	t.Logf("req %+v", req)
	t.Logf("close: %v", sink.wait(t, 5*time.Second))
	for i, m := range sink.messages() {
		if i < 10 {
			t.Logf("%d type %d ts %d len %d", i, m.Type, m.Timestamp, len(m.Payload))
		}
	}
	t.Logf("n=%d", len(sink.messages()))
}
