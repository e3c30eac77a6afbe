package rtmp

import "encoding/binary"

// Chunk stream ids the server sends on. Protocol control goes on 2 as the
// spec requires; the others follow what Flash Media Server used.
const (
	csidControl = 2
	csidCommand = 3
	csidStream  = 5
)

// User Control event types.
const (
	eventStreamBegin     = 0
	eventSetBufferLength = 3
	eventPingRequest     = 6
	eventPingResponse    = 7
)

func uint32Message(typeID uint8, v uint32) message {
	return message{typeID: typeID, payload: binary.BigEndian.AppendUint32(nil, v)}
}

func setChunkSizeMessage(n uint32) message { return uint32Message(typeSetChunkSize, n) }

func windowAckSizeMessage(n uint32) message { return uint32Message(typeWindowAckSize, n) }

func acknowledgementMessage(seq uint32) message { return uint32Message(typeAcknowledgement, seq) }

// limitDynamic lets the peer treat the limit as soft or hard.
const limitDynamic = 2

func setPeerBandwidthMessage(n uint32, limit byte) message {
	m := uint32Message(typeSetPeerBandwidth, n)
	m.payload = append(m.payload, limit)
	return m
}

func userControlMessage(event uint16, data []byte) message {
	p := binary.BigEndian.AppendUint16(nil, event)
	return message{typeID: typeUserControl, payload: append(p, data...)}
}

func streamBeginMessage(streamID uint32) message {
	return userControlMessage(eventStreamBegin, binary.BigEndian.AppendUint32(nil, streamID))
}
