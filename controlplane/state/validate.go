package state

import (
	"fmt"
	"os"
)

// ValidateFile checks that data is a state file this version can open.
func ValidateFile(data []byte) error {
	f, err := os.CreateTemp("", "livestreams-snapshot-*.db")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	f.Close()
	db, err := openDB(f.Name())
	if err != nil {
		return fmt.Errorf("not a livestreams snapshot: %w", err)
	}
	return db.Close()
}
