package server

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

type tmpCA struct{ CertPEM, KeyPEM string }

func newClusterCA(string) (tmpCA, error) { return tmpCA{}, nil }

func hashSetupToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

func (s *Server) apiHandler() http.Handler { return http.NotFoundHandler() }
