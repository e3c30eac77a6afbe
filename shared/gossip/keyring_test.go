package gossip

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testutil"
)

// TestKeyringRollingRotation: mid-rotation, one node already encrypts with
// the new key and another still with the old; each holds the other's
// primary as a secondary, so they gossip. A node holding neither key is
// kept out.
func TestKeyringRollingRotation(t *testing.T) {
	oldKey := bytes.Repeat([]byte{0x01}, 32)
	newKey := bytes.Repeat([]byte{0x02}, 32)
	stranger := bytes.Repeat([]byte{0x03}, 32)

	aCfg := testConfig("edge-a", RoleEdge)
	aCfg.Key, aCfg.SecondaryKeys = oldKey, [][]byte{newKey}
	a := start(t, aCfg, edgeInfo("edge-a", "eu", 1, 1))

	bCfg := testConfig("edge-b", RoleEdge, a.Addr())
	bCfg.Key, bCfg.SecondaryKeys = newKey, [][]byte{oldKey}
	b := start(t, bCfg, edgeInfo("edge-b", "eu", 2, 2))

	testutil.Eventually(t, 10*time.Second, "nodes on different primaries see each other alive", func() bool {
		return stateOf(a, "edge-b") == StateAlive && stateOf(b, "edge-a") == StateAlive
	})
	if m, _ := memberOf(a, "edge-b"); m.HLSURL != "https://edge-b.example.net/hls" {
		t.Fatalf("edge-b's metadata as edge-a decrypted it: %+v", m)
	}

	cCfg := testConfig("edge-c", RoleEdge, a.Addr())
	cCfg.Key = stranger
	c := start(t, cCfg, edgeInfo("edge-c", "eu", 3, 3))
	// c keeps trying to join in the background; an absence can only be
	// watched over a window: several of its join rounds.
	window := time.NewTimer(2 * time.Second)
	defer window.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, ok := memberOf(a, "edge-c"); ok {
			t.Fatal("a node with neither key joined")
		}
		if _, ok := memberOf(c, "edge-a"); ok {
			t.Fatal("a node with neither key sees the fleet")
		}
		select {
		case <-window.C:
			return
		case <-tick.C:
		}
	}
}

func TestParseKeyring(t *testing.T) {
	k1 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	k2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 16))
	p, sec, err := ParseKeyring(" " + k1 + " , " + k2 + "," + k1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p, bytes.Repeat([]byte{1}, 32)) || len(sec) != 1 || !bytes.Equal(sec[0], bytes.Repeat([]byte{2}, 16)) {
		t.Fatalf("ParseKeyring: primary %x secondaries %x", p, sec)
	}
	if _, _, err := ParseKeyring(k1 + ",not-a-key"); err == nil || !strings.Contains(err.Error(), "gossip key 2") || strings.Contains(err.Error(), k1) {
		t.Fatalf("bad second key: %v", err)
	}
	if _, _, err := ParseKeyring(""); err == nil {
		t.Fatal("empty keyring accepted")
	}
	if got := KeyStrings(k1 + ", " + k2); len(got) != 2 || got[0] != k1 || got[1] != k2 {
		t.Fatalf("KeyStrings: %q", got)
	}
}
