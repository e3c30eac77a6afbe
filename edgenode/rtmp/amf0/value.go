package amf0

// Type markers defined by the AMF0 specification.
const (
	markerNumber      = 0x00
	markerBoolean     = 0x01
	markerString      = 0x02
	markerObject      = 0x03
	markerMovieClip   = 0x04
	markerNull        = 0x05
	markerUndefined   = 0x06
	markerReference   = 0x07
	markerECMAArray   = 0x08
	markerObjectEnd   = 0x09
	markerStrictArray = 0x0A
	markerDate        = 0x0B
	markerLongString  = 0x0C
	markerUnsupported = 0x0D
	markerRecordSet   = 0x0E
	markerXMLDocument = 0x0F
	markerTypedObject = 0x10
	markerAVMPlus     = 0x11
)

// Property is one key/value pair of an Object or ECMAArray. Order is kept
// because some peers (and humans reading captures) care about it.
type Property struct {
	Key   string
	Value any
}

// Object is an anonymous AMF0 object (marker 0x03). Typed objects decode
// to Object as well; their class name is dropped.
type Object []Property

// Get returns the value of the first property named key.
func (o Object) Get(key string) (any, bool) { return get(o, key) }

// ECMAArray is an associative array (marker 0x08); FLV onMetaData is
// usually one.
type ECMAArray []Property

// Get returns the value of the first property named key.
func (a ECMAArray) Get(key string) (any, bool) { return get(a, key) }

// StrictArray is a dense array (marker 0x0A).
type StrictArray []any

// Undefined is the AMF0 undefined value (marker 0x06). The unsupported
// marker (0x0D) decodes to it too.
type Undefined struct{}

// Date is an AMF0 date: milliseconds since the Unix epoch, UTC. The
// time-zone field is reserved by the specification and is dropped.
type Date struct{ Millis float64 }

// XMLDocument is an AMF0 XML document (marker 0x0F), kept as text.
type XMLDocument string

func get(props []Property, key string) (any, bool) {
	for _, p := range props {
		if p.Key == key {
			return p.Value, true
		}
	}
	return nil, false
}

// Lookup returns the value of key if v is an Object or an ECMAArray.
func Lookup(v any, key string) (any, bool) {
	switch o := v.(type) {
	case Object:
		return o.Get(key)
	case ECMAArray:
		return o.Get(key)
	}
	return nil, false
}

// LookupString returns the string value of key in an Object or ECMAArray.
func LookupString(v any, key string) (string, bool) {
	x, ok := Lookup(v, key)
	if !ok {
		return "", false
	}
	s, ok := x.(string)
	return s, ok
}

// LookupNumber returns the number value of key in an Object or ECMAArray.
func LookupNumber(v any, key string) (float64, bool) {
	x, ok := Lookup(v, key)
	if !ok {
		return 0, false
	}
	f, ok := x.(float64)
	return f, ok
}
