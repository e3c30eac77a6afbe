package objstore_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/livestreams/livestreams/shared/objstore"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// newLocal returns a Local store in a temporary directory with its Handler
// served on a 127.0.0.1 port, as `livestreams dev` serves it.
func newLocal(t *testing.T, cfg objstore.LocalConfig) *objstore.Local {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	cfg.PublicBaseURL = "http://" + srv.Listener.Addr().String()
	cfg.SigningSecret = testSecret
	l, err := objstore.OpenLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/objects/", l.Handler())
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		l.Close()
	})
	return l
}

func TestLocalConformance(t *testing.T) {
	runConformance(t, suite{
		newStore:                func(t *testing.T) objstore.Store { return newLocal(t, objstore.LocalConfig{}) },
		sigParam:                "sig",
		computesPresignedSHA256: true,
	})
}
