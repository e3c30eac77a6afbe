package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/livestreams/livestreams/controlplane/client"
	"github.com/livestreams/livestreams/shared/pki"
	"github.com/livestreams/livestreams/shared/testutil"
)

// TestCARotationWithLiveEdge rotates the cluster CA while the dev edge is
// connected: the edge learns the new CA over its connection, renews its
// certificate from it and reconnects; the rotation then finishes without
// force, and the edge keeps renewing its lease with the new certificate.
func TestCARotationWithLiveEdge(t *testing.T) {
	t.Parallel()
	c := startDev(t)
	ctx := testutil.Context(t, 60*time.Second)
	certPath := filepath.Join(c.dataDir, "edge", "identity", "node.crt")
	issuer := func() string {
		raw, err := os.ReadFile(certPath)
		if err != nil {
			return ""
		}
		cert, err := pki.ParseCertPEM(string(raw))
		if err != nil {
			return ""
		}
		bundle, _ := os.ReadFile(filepath.Join(c.dataDir, "edge", "identity", "ca.pem"))
		cas, _ := pki.Bundle(bundle).Certificates()
		return pki.IssuerFingerprint(cert, cas)
	}
	before := issuer()
	if before == "" {
		t.Fatal("the dev edge keeps no certificate in its data dir")
	}
	st, err := c.API.Cluster().RotateCA(ctx, client.CARotate{ExpectCurrent: before})
	if err != nil {
		t.Fatal(err)
	}
	newCA := st.CAs[0].Fingerprint
	took := testutil.UntilEvery(t, 30*time.Second, devPoll, "the edge renews from the new CA", func() error {
		st, err := c.API.Cluster().CA(ctx)
		if err != nil {
			return err
		}
		if len(st.Pending) > 0 {
			return fmt.Errorf("pending: %v", st.Pending)
		}
		if got := issuer(); got != newCA {
			return fmt.Errorf("certificate on disk from %.12s, want %.12s", got, newCA)
		}
		return nil
	})
	t.Logf("edge renewed %v after the rotation began", took.Round(time.Millisecond))
	if _, err := c.API.Cluster().FinishCARotation(ctx, client.CAFinish{}); err != nil {
		t.Fatalf("finish without force: %v", err)
	}
	lease := func() time.Time {
		nodes, err := c.API.Nodes().List(ctx)
		if err != nil || len(nodes) != 1 {
			return time.Time{}
		}
		return nodes[0].LeaseExpiresAt
	}
	after := lease()
	testutil.EventuallyEvery(t, 15*time.Second, devPoll, "the edge renews its lease after the rotation finished", func() bool {
		return lease().After(after)
	})
	s := newStream(t, c, client.StreamCreate{Name: "after-rotation"})
	pub := publish(t, c.RTMPURL(s.Key), 640, 360, 4, false)
	if err := pub.Wait(); err != nil {
		t.Fatalf("publish after the rotation: %v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	testutil.UntilEvery(t, 30*time.Second, devPoll, "the publish after the rotation is recorded as a session", func() error {
		sess, err := c.API.Streams().Sessions(cctx, s.ID)
		if err != nil {
			return err
		}
		if len(sess) == 0 || sess[0].EndReason != "unpublished" {
			return fmt.Errorf("sessions %+v", sess)
		}
		return nil
	})
}
