package oauth

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"golang.org/x/oauth2"
)

// The YouTube Data API v3 resources this package reads and writes, as
// documented (only the fields used).
type (
	ytChannelList struct {
		Items []struct {
			ID      string `json:"id"`
			Snippet struct {
				Title string `json:"title"`
			} `json:"snippet"`
		} `json:"items"`
	}
	ytLiveStream struct {
		ID      string `json:"id,omitempty"`
		Snippet struct {
			Title string `json:"title"`
		} `json:"snippet"`
		CDN struct {
			FrameRate     string `json:"frameRate"`
			IngestionType string `json:"ingestionType"`
			Resolution    string `json:"resolution"`
			IngestionInfo *struct {
				StreamName             string `json:"streamName"`
				IngestionAddress       string `json:"ingestionAddress"`
				BackupIngestionAddress string `json:"backupIngestionAddress,omitempty"`
				RTMPSIngestionAddress  string `json:"rtmpsIngestionAddress,omitempty"`
			} `json:"ingestionInfo,omitempty"`
		} `json:"cdn"`
		ContentDetails struct {
			IsReusable bool `json:"isReusable"`
		} `json:"contentDetails"`
	}
	ytBroadcast struct {
		ID      string `json:"id,omitempty"`
		Snippet struct {
			Title              string `json:"title"`
			ScheduledStartTime string `json:"scheduledStartTime"`
		} `json:"snippet"`
		Status struct {
			PrivacyStatus string `json:"privacyStatus"`
		} `json:"status"`
		ContentDetails struct {
			EnableAutoStart bool   `json:"enableAutoStart"`
			EnableAutoStop  bool   `json:"enableAutoStop"`
			BoundStreamID   string `json:"boundStreamId,omitempty"`
		} `json:"contentDetails"`
	}
)

// youtubeChannel is channels.list?mine=true: the channel the token acts
// for.
func (s *Service) youtubeChannel(ctx context.Context, p *provider, tok *oauth2.Token) (Account, error) {
	var cl ytChannelList
	if err := s.call(ctx, p, tok, "GET", "/channels", url.Values{"part": {"snippet"}, "mine": {"true"}}, nil, &cl); err != nil {
		return Account{}, err
	}
	if len(cl.Items) == 0 || cl.Items[0].ID == "" {
		return Account{}, fmt.Errorf("youtube: the account has no channel: %w", ErrRefused)
	}
	return Account{ID: cl.Items[0].ID, Name: cl.Items[0].Snippet.Title}, nil
}

// youtubeIngest creates a reusable liveStream (liveStreams.insert) for
// its ingestion address and stream name, and a private broadcast
// (liveBroadcasts.insert, auto start and stop) bound to it
// (liveBroadcasts.bind), so publishing to the address goes live.
func (s *Service) youtubeIngest(ctx context.Context, p *provider, tok *oauth2.Token, title string) (Ingest, error) {
	var ls ytLiveStream
	ls.Snippet.Title = title
	ls.CDN.FrameRate, ls.CDN.IngestionType, ls.CDN.Resolution = "variable", "rtmp", "variable"
	ls.ContentDetails.IsReusable = true
	var made ytLiveStream
	if err := s.call(ctx, p, tok, "POST", "/liveStreams", url.Values{"part": {"snippet,cdn,contentDetails"}}, ls, &made); err != nil {
		return Ingest{}, err
	}
	info := made.CDN.IngestionInfo
	if made.ID == "" || info == nil || info.IngestionAddress == "" || info.StreamName == "" {
		return Ingest{}, fmt.Errorf("youtube liveStreams.insert: answer without an ingestion address or stream name")
	}
	var b ytBroadcast
	b.Snippet.Title = title
	b.Snippet.ScheduledStartTime = s.cfg.Now().UTC().Format(time.RFC3339)
	b.Status.PrivacyStatus = "private"
	b.ContentDetails.EnableAutoStart, b.ContentDetails.EnableAutoStop = true, true
	var bc ytBroadcast
	if err := s.call(ctx, p, tok, "POST", "/liveBroadcasts", url.Values{"part": {"snippet,status,contentDetails"}}, b, &bc); err != nil {
		return Ingest{}, err
	}
	if bc.ID == "" {
		return Ingest{}, fmt.Errorf("youtube liveBroadcasts.insert: answer without an id")
	}
	q := url.Values{"id": {bc.ID}, "part": {"id,contentDetails"}, "streamId": {made.ID}}
	if err := s.call(ctx, p, tok, "POST", "/liveBroadcasts/bind", q, nil, nil); err != nil {
		return Ingest{}, err
	}
	return Ingest{URL: info.IngestionAddress, Key: info.StreamName, StreamID: made.ID, BroadcastID: bc.ID}, nil
}
