package amf0

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	long := strings.Repeat("x", 70000)
	tests := []struct {
		name string
		in   []any
		want []any // nil means same as in
	}{
		{name: "number", in: []any{1.5, -0.0, math.Inf(1)}},
		{name: "ints become numbers", in: []any{3, uint32(7)}, want: []any{3.0, 7.0}},
		{name: "bool", in: []any{true, false}},
		{name: "strings", in: []any{"", "connect", long}},
		{name: "null undefined", in: []any{nil, Undefined{}}},
		{name: "object", in: []any{Object{{"app", "live"}, {"n", 2.0}, {"nested", Object{{"a", true}}}}}},
		{name: "empty object", in: []any{Object{}}},
		{name: "ecma array", in: []any{ECMAArray{{"width", 640.0}, {"height", 360.0}}}},
		{name: "strict array", in: []any{StrictArray{1.0, "a", nil}}},
		{name: "any slice", in: []any{[]any{"a"}}, want: []any{StrictArray{"a"}}},
		{name: "date", in: []any{Date{Millis: 1e12}}},
		{name: "xml", in: []any{XMLDocument("<a/>")}},
		{name: "command", in: []any{"_result", 1.0, Object{{"fmsVer", "FMS/3,0,1,123"}}, Object{{"code", "NetConnection.Connect.Success"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(tc.in...)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := DecodeAll(b)
			if err != nil {
				t.Fatalf("DecodeAll: %v", err)
			}
			want := tc.want
			if want == nil {
				want = tc.in
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestDecodeKnownBytes(t *testing.T) {
	// "onMetaData" followed by an ECMA array {width: 640} as ffmpeg writes it.
	b := []byte{
		0x02, 0x00, 0x0a, 'o', 'n', 'M', 'e', 't', 'a', 'D', 'a', 't', 'a',
		0x08, 0x00, 0x00, 0x00, 0x01,
		0x00, 0x05, 'w', 'i', 'd', 't', 'h', 0x00, 0x40, 0x84, 0x00, 0, 0, 0, 0, 0,
		0x00, 0x00, 0x09,
	}
	vals, err := DecodeAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 2 || vals[0] != "onMetaData" {
		t.Fatalf("got %#v", vals)
	}
	if w, ok := LookupNumber(vals[1], "width"); !ok || w != 640 {
		t.Fatalf("width = %v, %v", w, ok)
	}
	// Typed objects decode to Object; ECMA arrays may omit the end marker.
	typed := []byte{0x10, 0x00, 0x01, 'C', 0x00, 0x01, 'k', 0x05, 0x00, 0x00, 0x09}
	if v, _, err := Decode(typed); err != nil || !reflect.DeepEqual(v, Object{{"k", nil}}) {
		t.Fatalf("typed object: %#v, %v", v, err)
	}
	open := []byte{0x08, 0, 0, 0, 1, 0x00, 0x01, 'k', 0x05}
	if v, _, err := Decode(open); err != nil || !reflect.DeepEqual(v, ECMAArray{{"k", nil}}) {
		t.Fatalf("open ecma array: %#v, %v", v, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	deep := bytes.Repeat([]byte{0x0A, 0, 0, 0, 1}, MaxDepth+2)
	deep = append(deep, 0x05)
	tests := map[string][]byte{
		"empty":             {},
		"short number":      {0x00, 1, 2},
		"short string":      {0x02, 0x00, 0x05, 'a'},
		"huge long string":  {0x0C, 0xff, 0xff, 0xff, 0xff, 'a'},
		"huge strict array": {0x0A, 0xff, 0xff, 0xff, 0xff, 0x05},
		"reference":         {0x07, 0x00, 0x01},
		"avmplus":           {0x11, 0x01},
		"object end alone":  {0x09},
		"unterminated obj":  {0x03, 0x00, 0x01, 'k', 0x05},
		"too deep":          deep,
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Decode(b); err == nil {
				t.Fatal("want error")
			}
		})
	}
	if _, _, err := Decode([]byte{0x00, 1}); !errors.Is(err, ErrTruncated) {
		t.Fatalf("err = %v, want ErrTruncated", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	if _, err := Encode(struct{}{}); err == nil {
		t.Fatal("want error for unsupported type")
	}
	if _, err := Encode(Object{{strings.Repeat("k", 70000), 1.0}}); err == nil {
		t.Fatal("want error for long key")
	}
}

// FuzzAMF0 checks that decoding never panics and that whatever decodes
// re-encodes to bytes that decode and re-encode identically.
func FuzzAMF0(f *testing.F) {
	seed, _ := Encode("connect", 1.0, Object{{"app", "live"}, {"tcUrl", "rtmp://h/live"}}, nil, Undefined{},
		ECMAArray{{"w", 1.0}}, StrictArray{true, Date{}}, XMLDocument("x"))
	f.Add(seed)
	f.Add([]byte{0x08, 0, 0, 0, 1, 0x00, 0x01, 'k', 0x05})
	f.Fuzz(func(t *testing.T, b []byte) {
		vals, err := DecodeAll(b)
		if err != nil {
			return
		}
		enc, err := Encode(vals...)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", vals, err)
		}
		vals2, err := DecodeAll(enc)
		if err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		enc2, err := Encode(vals2...)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %v", err)
		}
	})
}
