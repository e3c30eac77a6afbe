package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/memberlist"
)

// The wire format. Everything a peer sends is decoded here and checked
// against these bounds before it touches the member table; anything out of
// bounds is an error and the whole message is dropped.
//
// Node meta (memberlist's per-node blob, at most 512 bytes, spread with
// memberlist's own alive messages) carries the fields fixed for a process
// lifetime: role, region, location and the public URLs. Everything that
// changes (load, draining, streams) travels in a record, versioned per
// node, as a broadcast, a direct message or in push-pull state.
//
//	meta    = metaV1 role flags [lat lon] region hls rtmp srt whip
//	message = msgRecord frame | msgState count frame*
//	frame   = uvarint(len) record          (bytes past a record's known
//	                                        fields are ignored: a newer
//	                                        peer may append fields)
//	record  = id version updated flags cpu transcodes viewers egress
//	          count stream*
//	string  = uvarint(len) bytes          (valid UTF-8, no control chars)
const (
	maxIDLen      = 128  // node ids and playback ids
	maxRegionLen  = 64   //
	maxURLLen     = 255  //
	maxStreams    = 1024 // playback ids one edge may originate
	maxMembers    = 4096 // records in one push-pull state, entries in the table
	maxTranscodes = 1 << 20
	maxViewers    = math.MaxInt32

	// maxRecordLen bounds one encoded record: the id, the fixed fields and
	// maxStreams ids of maxIDLen, with room for fields a newer peer adds.
	maxRecordLen = 1<<10 + maxStreams*(maxIDLen+2)

	metaV1 = 1

	msgRecord = 1
	msgState  = 2
)

const (
	recDraining = 1 << iota
	recLeaving
)

const metaHasLocation = 1

func roleCode(r Role) (byte, bool) {
	switch r {
	case RoleEdge:
		return 1, true
	case RoleControl:
		return 2, true
	}
	return 0, false
}

func roleOf(code byte) (Role, bool) {
	switch code {
	case 1:
		return RoleEdge, true
	case 2:
		return RoleControl, true
	}
	return "", false
}

// stable is what a node advertises in its memberlist meta.
type stable struct {
	Role                             Role
	Region                           string
	Lat, Lon                         float64
	HasLocation                      bool
	HLSURL, RTMPURL, SRTURL, WHIPURL string
}

// record is the versioned, changing part of a node's Info.
type record struct {
	NodeID    string
	Version   uint64
	UpdatedAt time.Time
	Draining  bool
	// Leaving is set by a node that is leaving gracefully, so its peers
	// report it left rather than dead.
	Leaving bool
	Load    Load
	Streams []string // sorted, unique
}

func encodeMeta(s stable) ([]byte, error) {
	code, ok := roleCode(s.Role)
	if !ok {
		return nil, fmt.Errorf("role %q: want %q or %q", s.Role, RoleEdge, RoleControl)
	}
	if err := checkLocation(s.HasLocation, s.Lat, s.Lon); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"region", s.Region, maxRegionLen},
		{"HLS URL", s.HLSURL, maxURLLen},
		{"RTMP URL", s.RTMPURL, maxURLLen},
		{"SRT URL", s.SRTURL, maxURLLen},
		{"WHIP URL", s.WHIPURL, maxURLLen},
	} {
		if err := checkString(f.v, f.max); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	var flags byte
	if s.HasLocation {
		flags |= metaHasLocation
	}
	b := []byte{metaV1, code, flags}
	if s.HasLocation {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.Lat))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.Lon))
	}
	for _, v := range []string{s.Region, s.HLSURL, s.RTMPURL, s.SRTURL, s.WHIPURL} {
		b = appendString(b, v)
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("region and URLs take %d bytes of node meta, limit %d", len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

func decodeMeta(b []byte) (stable, error) {
	var s stable
	if len(b) > memberlist.MetaMaxSize {
		return s, fmt.Errorf("meta of %d bytes", len(b))
	}
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != metaV1 {
		return s, fmt.Errorf("meta version %d", v)
	}
	code := d.byte()
	flags := d.byte()
	if d.err != nil {
		return s, d.err
	}
	var ok bool
	if s.Role, ok = roleOf(code); !ok {
		return stable{}, fmt.Errorf("role code %d", code)
	}
	if flags&metaHasLocation != 0 {
		s.HasLocation = true
		s.Lat, s.Lon = d.float(), d.float()
	}
	s.Region = d.string(maxRegionLen)
	s.HLSURL = d.string(maxURLLen)
	s.RTMPURL = d.string(maxURLLen)
	s.SRTURL = d.string(maxURLLen)
	s.WHIPURL = d.string(maxURLLen)
	if d.err != nil {
		return stable{}, d.err
	}
	if err := checkLocation(s.HasLocation, s.Lat, s.Lon); err != nil {
		return stable{}, err
	}
	return s, nil
}

// encodeRecordMsg frames r as a message. r must be valid (see checkRecord).
func encodeRecordMsg(r record) []byte {
	return appendFrame([]byte{msgRecord}, r)
}

// encodeStateMsg frames rs as push-pull state.
func encodeStateMsg(rs []record) []byte {
	b := binary.AppendUvarint([]byte{msgState}, uint64(len(rs)))
	for _, r := range rs {
		b = appendFrame(b, r)
	}
	return b
}

func appendFrame(b []byte, r record) []byte {
	body := appendRecord(nil, r)
	b = binary.AppendUvarint(b, uint64(len(body)))
	return append(b, body...)
}

func appendRecord(b []byte, r record) []byte {
	b = appendString(b, r.NodeID)
	b = binary.AppendUvarint(b, r.Version)
	var ns int64
	if !r.UpdatedAt.IsZero() {
		ns = r.UpdatedAt.UnixNano()
	}
	b = binary.AppendVarint(b, ns)
	var flags byte
	if r.Draining {
		flags |= recDraining
	}
	if r.Leaving {
		flags |= recLeaving
	}
	b = append(b, flags)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Load.CPU))
	b = binary.AppendUvarint(b, uint64(r.Load.Transcodes))
	b = binary.AppendUvarint(b, uint64(r.Load.Viewers))
	b = binary.AppendUvarint(b, uint64(r.Load.EgressBps))
	b = binary.AppendUvarint(b, uint64(len(r.Streams)))
	for _, s := range r.Streams {
		b = appendString(b, s)
	}
	return b
}

// frame is a decoded record with the bytes it came in, so that it can be
// relayed with any fields this version does not know.
type frame struct {
	record
	body []byte
}

// relayMsg is the record message carrying f as it was received.
func (f frame) relayMsg() []byte {
	b := binary.AppendUvarint([]byte{msgRecord}, uint64(len(f.body)))
	return append(b, f.body...)
}

// decodeMessage decodes a record message or push-pull state into its
// records, each checked. It never panics on any input. The frames' bodies
// alias b.
func decodeMessage(b []byte) ([]frame, error) {
	d := decoder{b: b}
	switch t := d.byte(); {
	case d.err != nil:
		return nil, d.err
	case t == msgRecord:
		r := d.frame()
		if d.err != nil {
			return nil, d.err
		}
		if len(d.b) != 0 {
			return nil, fmt.Errorf("%d bytes after the record", len(d.b))
		}
		return []frame{r}, nil
	case t == msgState:
		n := d.uvarint(maxMembers)
		if d.err != nil {
			return nil, d.err
		}
		// Each frame takes at least two bytes, so n is also bounded by
		// the input: a short message cannot make us allocate much.
		if n > uint64(len(d.b)) {
			return nil, fmt.Errorf("%d records in %d bytes", n, len(d.b))
		}
		rs := make([]frame, 0, n)
		for range n {
			rs = append(rs, d.frame())
			if d.err != nil {
				return nil, d.err
			}
		}
		if len(d.b) != 0 {
			return nil, fmt.Errorf("%d bytes after the state", len(d.b))
		}
		return rs, nil
	default:
		return nil, fmt.Errorf("message type %d", t)
	}
}

func (d *decoder) frame() frame {
	n := d.uvarint(maxRecordLen)
	body := d.take(n)
	if d.err != nil {
		return frame{}
	}
	rd := decoder{b: body}
	r := rd.record()
	if rd.err != nil {
		d.err = rd.err
		return frame{}
	}
	return frame{r, body}
}

func (d *decoder) record() record {
	var r record
	r.NodeID = d.string(maxIDLen)
	r.Version = d.uvarint(math.MaxUint64)
	if ns := d.varint(); ns != 0 {
		r.UpdatedAt = time.Unix(0, ns)
	}
	flags := d.byte()
	r.Draining, r.Leaving = flags&recDraining != 0, flags&recLeaving != 0
	r.Load.CPU = d.float()
	r.Load.Transcodes = int(d.uvarint(maxTranscodes))
	r.Load.Viewers = int(d.uvarint(maxViewers))
	r.Load.EgressBps = int64(d.uvarint(math.MaxInt64))
	n := d.uvarint(maxStreams)
	if d.err != nil {
		return record{}
	}
	if n > 0 {
		r.Streams = make([]string, 0, min(n, uint64(len(d.b))))
	}
	for range n {
		r.Streams = append(r.Streams, d.string(maxIDLen))
		if d.err != nil {
			return record{}
		}
	}
	// Whatever follows is a field from a newer peer.
	if err := checkRecord(&r); err != nil {
		d.err = err
		return record{}
	}
	return r
}

// checkRecord validates r and sorts and deduplicates its streams.
func checkRecord(r *record) error {
	if r.NodeID == "" {
		return errors.New("empty node id")
	}
	if err := checkString(r.NodeID, maxIDLen); err != nil {
		return fmt.Errorf("node id: %w", err)
	}
	if c := r.Load.CPU; math.IsNaN(c) || c < 0 || c > 1 {
		return fmt.Errorf("cpu load %v outside 0..1", c)
	}
	if r.Load.Transcodes < 0 || r.Load.Viewers < 0 || r.Load.EgressBps < 0 {
		return errors.New("negative load")
	}
	if len(r.Streams) > maxStreams {
		return fmt.Errorf("%d streams, limit %d", len(r.Streams), maxStreams)
	}
	for _, s := range r.Streams {
		if s == "" {
			return errors.New("empty playback id")
		}
		if err := checkString(s, maxIDLen); err != nil {
			return fmt.Errorf("playback id: %w", err)
		}
	}
	slices.Sort(r.Streams)
	r.Streams = slices.Compact(r.Streams)
	return nil
}

func checkLocation(has bool, lat, lon float64) error {
	if !has {
		return nil
	}
	if !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180) {
		return fmt.Errorf("location %v,%v outside -90..90,-180..180", lat, lon)
	}
	return nil
}

// checkString accepts printable UTF-8 of at most max bytes: what peers
// send ends up in logs, URLs and JSON.
func checkString(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%d bytes, limit %d", len(s), max)
	}
	if !utf8.ValidString(s) {
		return errors.New("not UTF-8")
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("control character %U", c)
		}
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads from b; the first error sticks and later reads return
// zero values, so callers check once at the end.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) float() float64 {
	if v := d.take(8); v != nil {
		return math.Float64frombits(binary.LittleEndian.Uint64(v))
	}
	return 0
}

func (d *decoder) uvarint(max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	if v > max {
		d.err = fmt.Errorf("value %d over limit %d", v, max)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(max int) string {
	n := d.uvarint(uint64(max))
	v := d.take(n)
	if d.err != nil {
		return ""
	}
	s := string(v)
	if err := checkString(s, max); err != nil {
		d.err = err
		return ""
	}
	return s
}
