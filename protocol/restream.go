package protocol

import "time"

// Restream messages. A restream job relays a live session's source, as
// it is (no decode), to one of the stream's restream targets; it is
// pinned to the edge the session runs on. Its payload (RestreamJob)
// names the target but carries no secret: the edge asks for the URL and
// key with RestreamCredentials once it holds the job's lease, so the key
// is never stored in the job table and reaches only that edge, over the
// mutually authenticated QUIC channel. While the job runs the edge
// reports each change of the relay's state with RestreamStatus.
const (
	JobRestream = "restream"

	TypeRestreamCredentials = "restream_credentials"
	TypeRestreamStatus      = "restream_status"
)

// RestreamJob is the payload of a restream job.
type RestreamJob struct {
	TargetID  string `json:"target_id"`
	StreamID  string `json:"stream_id"`
	SessionID string `json:"session_id"`
	Name      string `json:"name,omitempty"`
	Preset    string `json:"preset,omitempty"`
}

// RestreamCredentialsRequest asks for the ingest URL and key of the target
// of a restream job the edge holds.
type RestreamCredentialsRequest struct {
	JobID string `json:"job_id"`
}

// RestreamCredentials is where to publish: URL (rtmp:// or rtmps://,
// without the key) and Key, the stream name to publish under. Key is a
// secret: never log it, never put it in a process's arguments.
type RestreamCredentials struct {
	URL string `json:"url"`
	Key string `json:"key"`
}

// Restream relay states an edge reports (the control plane's own are
// idle, starting and stopped).
const (
	RestreamLive         = "live"
	RestreamReconnecting = "reconnecting"
	RestreamFailed       = "failed"
)

// RestreamStatus reports a change of a running restream job's relay:
// live once the target accepted the publish and media flows,
// reconnecting (with the error) while it retries a lost connection,
// failed when it gave up. Error must carry no secret.
type RestreamStatus struct {
	JobID  string    `json:"job_id"`
	Status string    `json:"status"`
	Error  string    `json:"error,omitempty"`
	At     time.Time `json:"at"`
}
