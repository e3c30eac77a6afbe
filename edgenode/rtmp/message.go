package rtmp

// Message type ids from the RTMP specification.
const (
	typeSetChunkSize     = 1
	typeAbort            = 2
	typeAcknowledgement  = 3
	typeUserControl      = 4
	typeWindowAckSize    = 5
	typeSetPeerBandwidth = 6
	typeAMF3Data         = 15
	typeAMF3Command      = 17
	typeAggregate        = 22
	typeAMF0Command      = 20

	// TypeAudio, TypeVideo and TypeData are the message types a Sink
	// receives. They equal the FLV tag types.
	TypeAudio uint8 = 8
	TypeVideo uint8 = 9
	TypeData  uint8 = 18
)

// Message is one media or script-data message of a publish, handed to a
// Sink. Payload is the FLV tag body; the Sink owns it.
type Message struct {
	Type      uint8  // TypeAudio, TypeVideo or TypeData
	Timestamp uint32 // milliseconds; absolute, wraps modulo 2^32 like RTMP and FLV
	Payload   []byte
}

// message is a whole RTMP message as the chunk layer assembles it.
type message struct {
	typeID    uint8
	streamID  uint32
	timestamp uint32
	payload   []byte
}
