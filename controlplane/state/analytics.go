package state

import (
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/livestreams/livestreams/protocol"
)

// Viewer analytics: the rollups edges ship, one row per (time, org, stream
// or asset, edge, country, city, device), at two resolutions: minutes
// (kept a few days) and hours (kept for months, folded from minutes).
// The counters are the wire's (protocol.Counters), whose merge rules the
// FSM applies; rows are keyed subject first so a query reads one stream's
// range in order, with a time index for compaction.
//
// The tables are created on first write, so state files from before them
// need no migration; reads of a missing table find nothing.
var (
	bAnalyticsMinutes = []byte("analytics_minutes")
	bAnalyticsHours   = []byte("analytics_hours")
	bAnalyticsByTime  = []byte("analytics_by_time") // res/time/primary key -> ""
	bAnalyticsBatches = []byte("analytics_batches") // batch id -> unix seconds received
	bViewerSalts      = []byte("viewer_salts")      // day -> salt
)

// Resolutions of analytics rows.
const (
	ResMinute = "m"
	ResHour   = "h"
)

// AnalyticsRow is one stored rollup. Time is the unix second its minute
// or hour starts at.
type AnalyticsRow struct {
	Time     int64  `json:"time"`
	OrgID    string `json:"org_id"`
	StreamID string `json:"stream_id,omitempty"`
	AssetID  string `json:"asset_id,omitempty"`
	EdgeID   string `json:"edge_id"`
	Country  string `json:"country"`
	City     string `json:"city,omitempty"`
	Device   string `json:"device"`
	protocol.Counters
	// Peak is, in hour rows, the largest Concurrent of the row's minutes.
	Peak int64 `json:"peak,omitempty"`
}

func subject(streamID, assetID string) string {
	if assetID != "" {
		return "a/" + assetID
	}
	return "s/" + streamID
}

// key is the row's primary key.
func (r AnalyticsRow) key() string {
	return analyticsPrefix(r.OrgID, r.StreamID, r.AssetID) + fmt.Sprintf("%012x", r.Time) + "\x00" +
		strings.Join([]string{r.EdgeID, r.Country, r.City, r.Device}, "\x00")
}

func analyticsPrefix(orgID, streamID, assetID string) string {
	return orgID + "\x00" + subject(streamID, assetID) + "\x00"
}

func resBucket(res string) []byte {
	if res == ResHour {
		return bAnalyticsHours
	}
	return bAnalyticsMinutes
}

// bucket returns a table, creating it in a writable transaction; nil when
// a read finds none.
func (t *Tx) bucket(name []byte) (*bolt.Bucket, error) {
	if b := t.tx.Bucket(name); b != nil || !t.tx.Writable() {
		return b, nil
	}
	return t.tx.CreateBucketIfNotExists(name)
}

// AnalyticsRow returns the stored row with r's key, if any.
func (t *Tx) AnalyticsRow(res string, r AnalyticsRow) (AnalyticsRow, bool, error) {
	b, err := t.bucket(resBucket(res))
	if err != nil || b == nil {
		return AnalyticsRow{}, false, err
	}
	raw := b.Get([]byte(r.key()))
	if raw == nil {
		return AnalyticsRow{}, false, nil
	}
	var out AnalyticsRow
	if err := json.Unmarshal(raw, &out); err != nil {
		return AnalyticsRow{}, false, fmt.Errorf("decode analytics row: %w", err)
	}
	return out, true, nil
}

// PutAnalyticsRow stores a row (replacing one with its key) and indexes
// it by time.
func (t *Tx) PutAnalyticsRow(res string, r AnalyticsRow) error {
	b, err := t.bucket(resBucket(res))
	if err != nil {
		return err
	}
	idx, err := t.bucket(bAnalyticsByTime)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode analytics row: %w", err)
	}
	k := r.key()
	if err := b.Put([]byte(k), raw); err != nil {
		return err
	}
	return idx.Put([]byte(fmt.Sprintf("%s%012x\x00%s", res, r.Time, k)), nil)
}

// AnalyticsRows calls fn with every row of one stream or asset at one
// resolution whose time is in [from, to), in time order, until fn
// returns false.
func (t *Tx) AnalyticsRows(res, orgID, streamID, assetID string, from, to int64, fn func(AnalyticsRow) bool) error {
	b, err := t.bucket(resBucket(res))
	if err != nil || b == nil {
		return err
	}
	prefix := analyticsPrefix(orgID, streamID, assetID)
	c := b.Cursor()
	end := []byte(prefix + fmt.Sprintf("%012x", to))
	for k, v := c.Seek([]byte(prefix + fmt.Sprintf("%012x", max(from, 0)))); k != nil && string(k) < string(end) && hasPrefix(k, []byte(prefix)); k, v = c.Next() {
		var r AnalyticsRow
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode analytics row %q: %w", k, err)
		}
		if !fn(r) {
			return nil
		}
	}
	return nil
}

// AnalyticsRowsBefore calls fn with every row of a resolution older than
// before, oldest first, until fn returns false.
func (t *Tx) AnalyticsRowsBefore(res string, before int64, fn func(AnalyticsRow) bool) error {
	idx, err := t.bucket(bAnalyticsByTime)
	if err != nil || idx == nil {
		return err
	}
	b, err := t.bucket(resBucket(res))
	if err != nil || b == nil {
		return err
	}
	end := []byte(fmt.Sprintf("%s%012x", res, before))
	c := idx.Cursor()
	for k, _ := c.Seek([]byte(res)); k != nil && string(k) < string(end); k, _ = c.Next() {
		pk := k[len(res)+13:]
		raw := b.Get(pk)
		if raw == nil {
			continue
		}
		var r AnalyticsRow
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("decode analytics row %q: %w", pk, err)
		}
		if !fn(r) {
			return nil
		}
	}
	return nil
}

// DeleteAnalyticsRow removes a row and its index entry.
func (t *Tx) DeleteAnalyticsRow(res string, r AnalyticsRow) error {
	b, err := t.bucket(resBucket(res))
	if err != nil {
		return err
	}
	idx, err := t.bucket(bAnalyticsByTime)
	if err != nil {
		return err
	}
	k := r.key()
	if err := b.Delete([]byte(k)); err != nil {
		return err
	}
	return idx.Delete([]byte(fmt.Sprintf("%s%012x\x00%s", res, r.Time, k)))
}

// AnalyticsBatchSeen reports whether a batch id was stored, and records
// it (at unix second at) when it was not.
func (t *Tx) AnalyticsBatchSeen(id string, at int64) (bool, error) {
	b, err := t.bucket(bAnalyticsBatches)
	if err != nil {
		return false, err
	}
	if b.Get([]byte(id)) != nil {
		return true, nil
	}
	return false, b.Put([]byte(id), []byte(fmt.Sprint(at)))
}

// ForgetAnalyticsBatches deletes the batch ids recorded before unix
// second before, returning how many.
func (t *Tx) ForgetAnalyticsBatches(before int64) (int, error) {
	b, err := t.bucket(bAnalyticsBatches)
	if err != nil || b == nil {
		return 0, err
	}
	var old [][]byte
	b.ForEach(func(k, v []byte) error {
		var at int64
		fmt.Sscan(string(v), &at)
		if at < before {
			old = append(old, append([]byte(nil), k...))
		}
		return nil
	})
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(old), nil
}

// ViewerSalt returns the salt of a day ("2006-01-02").
func (t *Tx) ViewerSalt(day string) ([]byte, bool, error) {
	b, err := t.bucket(bViewerSalts)
	if err != nil || b == nil {
		return nil, false, err
	}
	v := b.Get([]byte(day))
	return append([]byte(nil), v...), v != nil, nil
}

// PutViewerSalt stores a day's salt.
func (t *Tx) PutViewerSalt(day string, salt []byte) error {
	b, err := t.bucket(bViewerSalts)
	if err != nil {
		return err
	}
	return b.Put([]byte(day), salt)
}

// ForgetViewerSalts deletes the salts of days before day.
func (t *Tx) ForgetViewerSalts(day string) error {
	b, err := t.bucket(bViewerSalts)
	if err != nil || b == nil {
		return err
	}
	var old [][]byte
	b.ForEach(func(k, _ []byte) error {
		if string(k) < day {
			old = append(old, append([]byte(nil), k...))
		}
		return nil
	})
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
