package amf0

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Append encodes vals one after another onto dst. Numbers may be any Go
// integer or float type; strings longer than 65535 bytes become long
// strings. Other types are an error.
func Append(dst []byte, vals ...any) ([]byte, error) {
	var err error
	for _, v := range vals {
		if dst, err = appendValue(dst, v, 0); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// Encode is Append onto a new slice.
func Encode(vals ...any) ([]byte, error) { return Append(nil, vals...) }

func appendNumber(dst []byte, f float64) []byte {
	dst = append(dst, markerNumber)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(f))
}

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, fmt.Errorf("amf0: nesting deeper than %d", MaxDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(dst, markerNull), nil
	case Undefined:
		return append(dst, markerUndefined), nil
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		return append(dst, markerBoolean, b), nil
	case float64:
		return appendNumber(dst, x), nil
	case float32:
		return appendNumber(dst, float64(x)), nil
	case int:
		return appendNumber(dst, float64(x)), nil
	case int32:
		return appendNumber(dst, float64(x)), nil
	case int64:
		return appendNumber(dst, float64(x)), nil
	case uint8:
		return appendNumber(dst, float64(x)), nil
	case uint16:
		return appendNumber(dst, float64(x)), nil
	case uint32:
		return appendNumber(dst, float64(x)), nil
	case string:
		if len(x) > math.MaxUint16 {
			dst = append(dst, markerLongString)
			return appendStr32(dst, x)
		}
		dst = append(dst, markerString)
		return appendStr16(dst, x)
	case XMLDocument:
		dst = append(dst, markerXMLDocument)
		return appendStr32(dst, string(x))
	case Date:
		dst = append(dst, markerDate)
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(x.Millis))
		return append(dst, 0, 0), nil
	case Object:
		return appendProperties(append(dst, markerObject), x, depth)
	case ECMAArray:
		dst = append(dst, markerECMAArray)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(x)))
		return appendProperties(dst, x, depth)
	case []any:
		return appendValue(dst, StrictArray(x), depth)
	case StrictArray:
		if uint64(len(x)) > math.MaxUint32 {
			return dst, fmt.Errorf("amf0: strict array of %d elements is too long", len(x))
		}
		dst = append(dst, markerStrictArray)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(x)))
		var err error
		for _, e := range x {
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return dst, nil
	default:
		return dst, fmt.Errorf("amf0: cannot encode %T", v)
	}
}

func appendProperties(dst []byte, props []Property, depth int) ([]byte, error) {
	var err error
	for _, p := range props {
		if dst, err = appendStr16(dst, p.Key); err != nil {
			return dst, err
		}
		if dst, err = appendValue(dst, p.Value, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, 0, 0, markerObjectEnd), nil
}

func appendStr16(dst []byte, s string) ([]byte, error) {
	if len(s) > math.MaxUint16 {
		return dst, fmt.Errorf("amf0: string of %d bytes is too long for a short string", len(s))
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...), nil
}

func appendStr32(dst []byte, s string) ([]byte, error) {
	if uint64(len(s)) > math.MaxUint32 {
		return dst, fmt.Errorf("amf0: string of %d bytes is too long", len(s))
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...), nil
}
