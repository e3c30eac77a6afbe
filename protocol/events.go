package protocol

// Job progress and logs. An edge reports each running job's ffmpeg
// progress a few times a second to the control-plane node it talks to,
// which shows it to event-stream clients and tells the other nodes; it is
// never written to Raft. When an attempt ends the edge sends the last
// lines of ffmpeg's stderr (JobLog) before it reports the end, and the
// control plane stores them with the job.
const (
	TypeJobProgress = "job_progress"
	TypeJobLog      = "job_log"
)

// Bounds of the progress and log messages.
const (
	MaxProgressJobs   = 64
	MaxLogLinesPerMsg = 200
	MaxLogLineLen     = 1024
)

// JobProgressReport is the latest progress of some running jobs; Log
// carries stderr lines printed since the last report (optional).
type JobProgressReport struct {
	Jobs []JobProgressUpdate `json:"jobs"`
}

// JobProgressUpdate is one job's progress.
type JobProgressUpdate struct {
	ID          string   `json:"id"`
	Percent     float64  `json:"percent"`
	Frame       int64    `json:"frame,omitempty"`
	FPS         float64  `json:"fps,omitempty"`
	Speed       float64  `json:"speed,omitempty"`
	BitrateKbps float64  `json:"bitrate_kbps,omitempty"`
	Log         []string `json:"log,omitempty"`
}

// JobLog is the tail of an attempt's ffmpeg stderr, sent before its end
// is reported. Truncated says older lines were dropped.
type JobLog struct {
	ID        string   `json:"id"`
	Lines     []string `json:"lines"`
	Truncated bool     `json:"truncated,omitempty"`
}
