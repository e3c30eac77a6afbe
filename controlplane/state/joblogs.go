package state

import (
	"encoding/json"
	"fmt"
	"time"
)

// Bounds of a stored job log: the last lines of ffmpeg's stderr.
const (
	MaxJobLogLines = 200
	MaxJobLogBytes = 32 << 10
)

// JobLog is the tail of a job's ffmpeg output, kept after the job ends
// (the last attempt's).
type JobLog struct {
	JobID     string    `json:"job_id"`
	OrgID     string    `json:"org_id"`
	Lines     []string  `json:"lines"`
	Truncated bool      `json:"truncated,omitempty"`
	At        time.Time `json:"at"`
}

var bJobLogs = []byte("job_logs") // job id -> JobLog; created on first write

// TrimJobLog keeps the last lines of lines within the bounds and reports
// whether it dropped any.
func TrimJobLog(lines []string) ([]string, bool) {
	truncated := false
	if len(lines) > MaxJobLogLines {
		lines, truncated = lines[len(lines)-MaxJobLogLines:], true
	}
	total := 0
	for i := len(lines) - 1; i >= 0; i-- {
		total += len(lines[i]) + 1
		if total > MaxJobLogBytes {
			return lines[i+1:], true
		}
	}
	return lines, truncated
}

// PutJobLog stores a job's log, replacing an earlier attempt's.
func (t *Tx) PutJobLog(l JobLog) error {
	b, err := t.tx.CreateBucketIfNotExists(bJobLogs)
	if err != nil {
		return fmt.Errorf("put job log: %w", err)
	}
	raw, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("put job log %s: %w", l.JobID, err)
	}
	return b.Put([]byte(l.JobID), raw)
}

// JobLogOf returns a job's stored log; ok is false when none is stored.
func (t *Tx) JobLogOf(jobID string) (l JobLog, ok bool, err error) {
	b := t.tx.Bucket(bJobLogs)
	if b == nil {
		return l, false, nil
	}
	raw := b.Get([]byte(jobID))
	if raw == nil {
		return l, false, nil
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return l, false, fmt.Errorf("decode job log %s: %w", jobID, err)
	}
	return l, true, nil
}
