package amf0

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// MaxDepth is how deeply objects and arrays may nest before Decode gives
// up. Real RTMP traffic nests two or three levels.
const MaxDepth = 32

// ErrTruncated reports input that ends inside a value.
var ErrTruncated = errors.New("amf0: truncated input")

// Decode decodes the first value in b and reports how many bytes it used.
func Decode(b []byte) (v any, n int, err error) {
	d := decoder{buf: b}
	v, err = d.value(0)
	return v, d.off, err
}

// DecodeAll decodes every value in b, as in an RTMP command message.
func DecodeAll(b []byte) ([]any, error) {
	d := decoder{buf: b}
	var vals []any
	for d.off < len(d.buf) {
		v, err := d.value(0)
		if err != nil {
			return vals, err
		}
		vals = append(vals, v)
	}
	return vals, nil
}

type decoder struct {
	buf []byte
	off int
}

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || len(d.buf)-d.off < n {
		return nil, ErrTruncated
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b, nil
}

func (d *decoder) u8() (byte, error) {
	b, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u16() (uint16, error) {
	b, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b), nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

func (d *decoder) f64() (float64, error) {
	b, err := d.take(8)
	if err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
}

func (d *decoder) str16() (string, error) {
	n, err := d.u16()
	if err != nil {
		return "", err
	}
	b, err := d.take(int(n))
	return string(b), err
}

func (d *decoder) str32() (string, error) {
	n, err := d.u32()
	if err != nil {
		return "", err
	}
	if uint64(n) > uint64(len(d.buf)-d.off) {
		return "", ErrTruncated
	}
	b, err := d.take(int(n))
	return string(b), err
}

func (d *decoder) value(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("amf0: nesting deeper than %d", MaxDepth)
	}
	at := d.off
	m, err := d.u8()
	if err != nil {
		return nil, err
	}
	switch m {
	case markerNumber:
		return d.f64()
	case markerBoolean:
		b, err := d.u8()
		return b != 0, err
	case markerString:
		return d.str16()
	case markerLongString:
		return d.str32()
	case markerXMLDocument:
		s, err := d.str32()
		return XMLDocument(s), err
	case markerNull:
		return nil, nil
	case markerUndefined, markerUnsupported:
		return Undefined{}, nil
	case markerObject:
		props, err := d.properties(depth, false)
		return Object(props), err
	case markerTypedObject:
		if _, err := d.str16(); err != nil {
			return nil, err
		}
		props, err := d.properties(depth, false)
		return Object(props), err
	case markerECMAArray:
		// The count is only a hint and encoders get it wrong; the end
		// marker is what terminates the array.
		if _, err := d.u32(); err != nil {
			return nil, err
		}
		props, err := d.properties(depth, true)
		return ECMAArray(props), err
	case markerStrictArray:
		n, err := d.u32()
		if err != nil {
			return nil, err
		}
		// Every element takes at least one byte: refuse counts the
		// input cannot hold before looping.
		if uint64(n) > uint64(len(d.buf)-d.off) {
			return nil, ErrTruncated
		}
		arr := StrictArray{}
		for range n {
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, nil
	case markerDate:
		ms, err := d.f64()
		if err != nil {
			return nil, err
		}
		if _, err := d.u16(); err != nil {
			return nil, err
		}
		return Date{Millis: ms}, nil
	case markerReference, markerMovieClip, markerRecordSet, markerAVMPlus, markerObjectEnd:
		return nil, fmt.Errorf("amf0: marker 0x%02x at offset %d is not supported here", m, at)
	default:
		return nil, fmt.Errorf("amf0: unknown marker 0x%02x at offset %d", m, at)
	}
}

// properties reads key/value pairs up to the object-end marker. For ECMA
// arrays, input that ends cleanly between properties is accepted, since
// some encoders omit the end marker.
func (d *decoder) properties(depth int, lenientEnd bool) ([]Property, error) {
	props := []Property{}
	for {
		if lenientEnd && d.off == len(d.buf) {
			return props, nil
		}
		key, err := d.str16()
		if err != nil {
			return nil, err
		}
		if key == "" {
			if d.off < len(d.buf) && d.buf[d.off] == markerObjectEnd {
				d.off++
				return props, nil
			}
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		props = append(props, Property{Key: key, Value: v})
	}
}
