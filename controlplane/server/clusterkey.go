package server

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadOrCreateClusterKey returns the cluster key kept in dataDir, creating
// (and printing, once) a new one for a bootstrapping node without one.
func LoadOrCreateClusterKey(dataDir string, out io.Writer) (string, error) {
	if dataDir == "" {
		return "", errors.New("--data-dir (LIVESTREAMS_DATA_DIR): required")
	}
	path := filepath.Join(dataDir, "cluster.key")
	raw, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(raw)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read cluster key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	key := hex.EncodeToString(random(32))
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write cluster key: %w", err)
	}
	fmt.Fprintf(out, "Generated cluster key (kept in %s); start the other nodes with --cluster-key %s\n", path, key)
	return key, nil
}
