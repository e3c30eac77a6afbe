package transcode

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// MinRecordingBytes is the smallest recording worth keeping: below it a
// publish ended before there was anything to watch (a few seconds of
// low-bitrate video at most).
const MinRecordingBytes = 64 << 10

// FinalizeRecording runs after ffmpeg has exited. A missing recording is
// not an error; one smaller than MinRecordingBytes is removed. A kept
// recording is fsynced, and so is its directory, so that it survives a
// power loss once the publish is reported as recorded.
func FinalizeRecording(path string) (kept bool, err error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("finalize recording: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("finalize recording %s: not a regular file", path)
	}
	dir := filepath.Dir(path)
	if fi.Size() < MinRecordingBytes {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("finalize recording: remove short recording: %w", err)
		}
		if err := syncDir(dir); err != nil {
			return false, fmt.Errorf("finalize recording: %w", err)
		}
		return false, nil
	}
	if err := syncFile(path); err != nil {
		return false, fmt.Errorf("finalize recording: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return false, fmt.Errorf("finalize recording: %w", err)
	}
	return true, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return d.Close()
}
