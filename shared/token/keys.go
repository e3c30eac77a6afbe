package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Keys maps a key id (the token header's kid) to the public half of a
// signing key. A nil Keys, or a nil key in it, accepts no token.
type Keys map[string]*ecdsa.PublicKey

// GenerateKey returns a new P-256 signing key.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate p-256 key: %w", err)
	}
	return k, nil
}

// PublicPEM encodes pub as a PKIX "PUBLIC KEY" PEM block.
func PublicPEM(pub *ecdsa.PublicKey) (string, error) {
	if err := checkCurve(pub); err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// PrivatePEM encodes priv as a PKCS #8 "PRIVATE KEY" PEM block.
func PrivatePEM(priv *ecdsa.PrivateKey) (string, error) {
	if priv == nil {
		return "", errors.New("encode private key: key is nil")
	}
	if err := checkCurve(&priv.PublicKey); err != nil {
		return "", fmt.Errorf("encode private key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("encode private key: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), nil
}

// ParsePublicPEM decodes one PKIX "PUBLIC KEY" PEM block holding a P-256
// ECDSA key. Other key types and curves are refused: Verify accepts only
// ES256.
func ParsePublicPEM(s string) (*ecdsa.PublicKey, error) {
	der, err := onePEMBlock(s, "PUBLIC KEY")
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("parse public key: %T is not an ECDSA key; only P-256 ECDSA is accepted", k)
	}
	if err := checkCurve(pub); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	return pub, nil
}

// ParsePrivatePEM decodes one P-256 ECDSA private key from a PKCS #8
// "PRIVATE KEY" PEM block, or from a SEC 1 "EC PRIVATE KEY" block as
// `openssl ecparam -genkey` writes it.
func ParsePrivatePEM(s string) (*ecdsa.PrivateKey, error) {
	b, rest := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("parse private key: no PEM block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("parse private key: data after the PEM block")
	}
	var priv *ecdsa.PrivateKey
	switch b.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		var ok bool
		if priv, ok = k.(*ecdsa.PrivateKey); !ok {
			return nil, fmt.Errorf("parse private key: %T is not an ECDSA key; only P-256 ECDSA is accepted", k)
		}
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		priv = k
	default:
		return nil, fmt.Errorf("parse private key: PEM block is %q, want \"PRIVATE KEY\"", b.Type)
	}
	if err := checkCurve(&priv.PublicKey); err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return priv, nil
}

func onePEMBlock(s, typ string) ([]byte, error) {
	b, rest := pem.Decode([]byte(s))
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	if b.Type != typ {
		return nil, fmt.Errorf("PEM block is %q, want %q", b.Type, typ)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the PEM block")
	}
	return b.Bytes, nil
}

func checkCurve(pub *ecdsa.PublicKey) error {
	if pub == nil || pub.Curve == nil {
		return errors.New("key is nil")
	}
	if pub.Curve != elliptic.P256() {
		return fmt.Errorf("curve %s is not P-256", pub.Curve.Params().Name)
	}
	return nil
}
