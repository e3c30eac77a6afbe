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

// ParseKeyring reads the --gossip-key flag: one key, or a comma-separated
// list of keys for a rolling rotation, each as ParseKey reads it. The first
// is the primary, used to encrypt; all are accepted to decrypt. Duplicates
// are dropped. Errors name the position, never a key.
func ParseKeyring(s string) (primary []byte, secondary [][]byte, err error) {
	seen := map[string]bool{}
	for i, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" && i > 0 {
			continue
		}
		k, err := ParseKey(part)
		if err != nil {
			return nil, nil, fmt.Errorf("gossip key %d: %w", i+1, err)
		}
		if seen[string(k)] {
			continue
		}
		seen[string(k)] = true
		if primary == nil {
			primary = k
		} else {
			secondary = append(secondary, k)
		}
	}
	return primary, secondary, nil
}

// KeyStrings splits the --gossip-key flag into its keys as written, primary
// first (for secrets derived from the keys, such as edge relay
// credentials).
func KeyStrings(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}
