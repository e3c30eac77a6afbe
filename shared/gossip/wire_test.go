package gossip

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleRecord() record {
	return record{
		NodeID: "edge-1", Version: 1<<62 + 7, UpdatedAt: time.Unix(1_760_000_000, 123),
		Draining: true, Load: Load{CPU: 0.5, Transcodes: 3, Viewers: 1200, EgressBps: 1 << 40},
		Streams: []string{"pb-a", "pb-b"},
	}
}

func sampleMeta() stable {
	return stable{Role: RoleEdge, Region: "eu-west", Lat: -33.9, Lon: 151.2, HasLocation: true,
		HLSURL: "https://e.example/hls", RTMPURL: "rtmp://e.example/live", SRTURL: "srt://e.example:8890", WHIPURL: "https://e.example/whip"}
}

func TestWireRoundTrip(t *testing.T) {
	r := sampleRecord()
	left := record{NodeID: "control-1", Version: 1, Leaving: true}
	for name, msg := range map[string][]byte{
		"record": encodeRecordMsg(r),
		"state":  encodeStateMsg([]record{r, left}),
	} {
		fs, err := decodeMessage(msg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(fs[0].record, r) {
			t.Errorf("%s: got %+v, want %+v", name, fs[0].record, r)
		}
		if !bytes.Equal(fs[0].relayMsg(), encodeRecordMsg(r)) {
			t.Errorf("%s: relay message differs from the record message", name)
		}
	}
	s := sampleMeta()
	b, err := encodeMeta(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeMeta(b); err != nil || got != s {
		t.Errorf("meta: got %+v, %v", got, err)
	}
	if got, err := decodeMeta(append(b, 9, 9, 9)); err != nil || got != s {
		t.Errorf("meta with fields from a newer version: got %+v, %v", got, err)
	}
}

// TestRecordFromNewerPeer: fields appended by a newer version inside a
// record's frame are skipped and relayed as they came.
func TestRecordFromNewerPeer(t *testing.T) {
	body := append(appendRecord(nil, sampleRecord()), 0xde, 0xad)
	msg := append(binary.AppendUvarint([]byte{msgRecord}, uint64(len(body))), body...)
	fs, err := decodeMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fs[0].record, sampleRecord()) || !bytes.Equal(fs[0].relayMsg(), msg) {
		t.Errorf("got %+v", fs[0])
	}
}

func TestDecodeRejects(t *testing.T) {
	good := encodeRecordMsg(sampleRecord())
	withRecord := func(mutate func(*record)) []byte {
		r := sampleRecord()
		mutate(&r)
		return appendFrame([]byte{msgRecord}, r) // unchecked, as a peer might send
	}
	for name, b := range map[string][]byte{
		"empty":          nil,
		"unknown type":   {9, 0},
		"truncated":      good[:len(good)-1],
		"trailing bytes": append(append([]byte{}, good...), 0),
		"frame too long": binary.AppendUvarint([]byte{msgRecord}, maxRecordLen+1),
		"bad varint":     {msgRecord, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"state count":    binary.AppendUvarint([]byte{msgState}, maxMembers+1),
		"state short":    {msgState, 100, 0},
		"empty id":       withRecord(func(r *record) { r.NodeID = "" }),
		"id too long":    withRecord(func(r *record) { r.NodeID = strings.Repeat("n", maxIDLen+1) }),
		"control char":   withRecord(func(r *record) { r.Streams = []string{"pb\x1b[31m"} }),
		"not utf-8":      withRecord(func(r *record) { r.Streams = []string{"\xff\xfe"} }),
		"empty stream":   withRecord(func(r *record) { r.Streams = []string{""} }),
		"cpu NaN":        withRecord(func(r *record) { r.Load.CPU = math.NaN() }),
		"cpu over 1":     withRecord(func(r *record) { r.Load.CPU = 1.5 }),
		"cpu negative":   withRecord(func(r *record) { r.Load.CPU = -0.1 }),
		"viewers":        withRecord(func(r *record) { r.Load.Viewers = maxViewers + 1 }),
		"egress":         withRecord(func(r *record) { r.Load.EgressBps = -1 }),
		"streams count": func() []byte {
			b := appendString(nil, "edge-1")
			b = append(b, 1, 0, 0)            // version, time, flags
			b = append(b, make([]byte, 8)...) // cpu
			b = append(b, 0, 0, 0)            // transcodes, viewers, egress
			b = binary.AppendUvarint(b, maxStreams+1)
			return append(binary.AppendUvarint([]byte{msgRecord}, uint64(len(b))), b...)
		}(),
	} {
		if fs, err := decodeMessage(b); err == nil {
			t.Errorf("%s: decoded %+v", name, fs)
		}
	}

	m, _ := encodeMeta(sampleMeta())
	for name, b := range map[string][]byte{
		"empty":     nil,
		"version":   {2, 1, 0},
		"role":      {metaV1, 7, 0},
		"truncated": m[:len(m)-3],
		"too long":  append(m, make([]byte, 512)...),
		"lat NaN": append(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(
			[]byte{metaV1, 1, metaHasLocation}, math.Float64bits(math.NaN())), 0), 0, 0, 0, 0, 0),
		"region chars": append([]byte{metaV1, 1, 0}, appendString(nil, "eu\n")...),
	} {
		if s, err := decodeMeta(b); err == nil {
			t.Errorf("meta %s: decoded %+v", name, s)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the decoders of everything a peer
// sends: they must not panic, and whatever they accept must survive a
// round trip.
func FuzzDecode(f *testing.F) {
	f.Add(encodeRecordMsg(sampleRecord()))
	f.Add(encodeStateMsg([]record{sampleRecord(), {NodeID: "c", Version: 1, Leaving: true}}))
	f.Add(encodeStateMsg(nil))
	m, _ := encodeMeta(sampleMeta())
	f.Add(m)
	f.Add([]byte{msgRecord, 3, 1, 'x', 0})
	f.Add([]byte{msgState, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if fs, err := decodeMessage(b); err == nil {
			rs := make([]record, len(fs))
			for i, f := range fs {
				rs[i] = f.record
			}
			again, err := decodeMessage(encodeStateMsg(rs))
			if err != nil {
				t.Fatalf("re-encoded state does not decode: %v", err)
			}
			for i := range again {
				if !reflect.DeepEqual(again[i].record, rs[i]) {
					t.Fatalf("round trip: %+v, want %+v", again[i].record, rs[i])
				}
			}
		}
		if s, err := decodeMeta(b); err == nil {
			enc, err := encodeMeta(s)
			if err != nil {
				t.Fatalf("decoded meta does not encode: %v", err)
			}
			if again, err := decodeMeta(enc); err != nil || again != s {
				t.Fatalf("meta round trip: %+v, %v; want %+v", again, err, s)
			}
		}
	})
}
