package gossip

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// GenerateKey returns a new random 32-byte gossip key. Print it with
// base64.StdEncoding; ParseKey reads that back.
func GenerateKey() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate gossip key: %w", err)
	}
	return k, nil
}

// ParseKey reads a gossip key (the --gossip-key flag) written in hex or
// base64 (standard or URL alphabet, padded or not); it must decode to 16,
// 24 or 32 bytes, for AES-128, -192 or -256. Hex is tried first. Errors
// never repeat the key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("gossip key: empty; want 16, 24 or 32 bytes in base64 or hex")
	}
	if k, err := hex.DecodeString(s); err == nil && checkKeyLen(len(k)) == nil {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if err := checkKeyLen(len(k)); err != nil {
			return nil, err
		}
		return k, nil
	}
	return nil, fmt.Errorf("gossip key: %d characters of neither base64 nor hex; want 16, 24 or 32 bytes in base64 or hex", len(s))
}

func checkKeyLen(n int) error {
	switch n {
	case 16, 24, 32:
		return nil
	case 0:
		return fmt.Errorf("gossip key required (16, 24 or 32 bytes)")
	}
	return fmt.Errorf("gossip key: %d bytes, want 16, 24 or 32", n)
}
