// Package protocol is the wire contract between the control plane and edge
// nodes: versioned, typed messages and their framing on QUIC streams, a
// Server the control plane runs and a Client edges dial.
//
// Every request is its own bidirectional QUIC stream carrying one request
// frame and one response frame. A frame is a 4-byte big-endian length
// followed by a JSON envelope:
//
//	request:  {"v":1,"type":"authorize_publish","id":"7","body":{...}}
//	response: {"v":1,"ok":true,"body":{...}}
//	          {"v":1,"ok":false,"error":{"code":"forbidden","message":"..."}}
//
// Every connection starts with a hello that carries the edge's join token;
// the server refuses the connection unless its Authenticate callback
// accepts it. The set of message types is open: a type the server does not
// know is answered with the error code unknown_type, never a dropped
// connection, so edges and control planes of neighbouring releases can talk.
//
// The package knows nothing about streams, keys or Raft: what a message
// means is the business of the Handler the control plane plugs in. Server
// certificates and join tokens come from shared/pki.
package protocol
