package srsingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// MaxHookBody bounds a hook's request body; SRS's are under 1 KiB.
const MaxHookBody = 64 << 10

// Hook actions this package answers.
const (
	actionPublish   = "on_publish"
	actionUnpublish = "on_unpublish"
	actionHLS       = "on_hls"
)

// Hook is the JSON body SRS posts to an HTTP callback (SRS 5 to 7; older
// versions send a numeric client_id and fewer fields). Param and TCURL may
// hold the stream key: never log them.
type Hook struct {
	ServerID  string   `json:"server_id"`
	ServiceID string   `json:"service_id"`
	Action    string   `json:"action"`
	ClientID  clientID `json:"client_id"`
	IP        string   `json:"ip"`
	Vhost     string   `json:"vhost"`
	App       string   `json:"app"`
	TCURL     string   `json:"tcUrl"`
	Stream    string   `json:"stream"`
	Param     string   `json:"param"`
	StreamURL string   `json:"stream_url"`
	StreamID  string   `json:"stream_id"`
}

// clientID is SRS's client id: a string since SRS 4, a number before.
type clientID string

func (c *clientID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = clientID(s)
		return nil
	}
	if string(b) == "null" {
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return errors.New("client_id is neither a string nor an integer")
	}
	*c = clientID(strconv.FormatInt(n, 10))
	return nil
}

// parseHook decodes one hook body. It refuses what is not one JSON object
// with an action, and fields too long to be SRS's.
func parseHook(body []byte) (Hook, error) {
	var h Hook
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&h); err != nil {
		return Hook{}, fmt.Errorf("decode hook body: %w", err)
	}
	if dec.More() {
		return Hook{}, errors.New("decode hook body: trailing data after the object")
	}
	if h.Action == "" {
		return Hook{}, errors.New("hook body without an action")
	}
	for _, f := range []string{h.Action, h.App, h.Stream, h.Vhost, h.IP, string(h.ClientID)} {
		if len(f) > 1024 {
			return Hook{}, errors.New("hook field longer than 1024 bytes")
		}
	}
	return h, nil
}

// streamKey is where the stream key is in a publish SRS reports. The
// stream name is the key, as in our own URL form rtmp://HOST/live/KEY (and
// SRT's streamid #!::r=live/KEY,m=publish, WebRTC's ?app=live&stream=KEY,
// which SRS maps to the same app and stream). An encoder that must publish
// a readable name may put the key in the URL's query instead
// (rtmp://HOST/live/NAME?key=KEY): a key parameter wins over the name.
// The query without the key is returned for the core's request.
func streamKey(h Hook) (key, query string) {
	vals, err := url.ParseQuery(strings.TrimPrefix(h.Param, "?"))
	if err != nil {
		vals = url.Values{}
	}
	key = h.Stream
	if k := vals.Get("key"); k != "" {
		key = k
	}
	vals.Del("key")
	return strings.TrimSpace(key), vals.Encode()
}

// streamPath identifies a stream in SRS: its vhost, app and name.
func streamPath(h Hook) string {
	return h.Vhost + "/" + h.App + "/" + h.Stream
}
