package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

func TestPEMRoundTrip(t *testing.T) {
	priv := mustKey(t)
	pubPEM, err := PublicPEM(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, err := PrivatePEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pubPEM, "-----BEGIN PUBLIC KEY-----\n") || !strings.HasPrefix(privPEM, "-----BEGIN PRIVATE KEY-----\n") {
		t.Fatalf("unexpected PEM types:\n%s\n%s", pubPEM, privPEM)
	}
	pub, err := ParsePublicPEM(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	priv2, err := ParsePrivatePEM(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&priv.PublicKey) || !priv2.Equal(priv) {
		t.Fatal("keys changed in the round trip")
	}
	// A token signed with the parsed private key verifies with the parsed
	// public key: what an org's backend and an edge each hold.
	tok := mustSign(t, priv2, "k1", pid, t0.Add(time.Hour))
	if _, err := Verify(tok, Keys{"k1": pub}, pid, t0); err != nil {
		t.Fatal(err)
	}
	// Surrounding whitespace, as from a JSON field or a file, is fine.
	if _, err := ParsePublicPEM("\n" + pubPEM + "\n\n"); err != nil {
		t.Errorf("whitespace around the block: %v", err)
	}
}

func TestParsePrivatePEMSEC1(t *testing.T) {
	priv := mustKey(t)
	der, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePrivatePEM(string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(priv) {
		t.Fatal("key changed")
	}
}

func TestPEMRefuses(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	priv := mustKey(t)
	pubPEM, _ := PublicPEM(&priv.PublicKey)
	privPEM, _ := PrivatePEM(priv)

	block := func(typ string, der []byte, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	pkix := func(k any) string { der, err := x509.MarshalPKIXPublicKey(k); return block("PUBLIC KEY", der, err) }
	pkcs8 := func(k any) string { der, err := x509.MarshalPKCS8PrivateKey(k); return block("PRIVATE KEY", der, err) }

	publics := map[string]string{
		"empty":              "",
		"not pem":            "hello",
		"private key":        privPEM,
		"p-384":              pkix(&p384.PublicKey),
		"rsa":                pkix(&rsaKey.PublicKey),
		"ed25519":            pkix(edPriv.Public()),
		"garbage der":        block("PUBLIC KEY", []byte{1, 2, 3}, nil),
		"two blocks":         pubPEM + pubPEM,
		"trailing text":      pubPEM + "x",
		"certificate header": strings.ReplaceAll(pubPEM, "PUBLIC KEY", "CERTIFICATE"),
	}
	for name, s := range publics {
		if k, err := ParsePublicPEM(s); err == nil {
			t.Errorf("ParsePublicPEM(%s) = %v, want an error", name, k)
		}
	}
	privates := map[string]string{
		"empty":         "",
		"public key":    pubPEM,
		"p-384 pkcs8":   pkcs8(p384),
		"p-384 sec1":    func() string { der, err := x509.MarshalECPrivateKey(p384); return block("EC PRIVATE KEY", der, err) }(),
		"rsa":           pkcs8(rsaKey),
		"ed25519":       pkcs8(edPriv),
		"garbage der":   block("PRIVATE KEY", []byte{1, 2, 3}, nil),
		"trailing text": privPEM + "x",
	}
	for name, s := range privates {
		if k, err := ParsePrivatePEM(s); err == nil {
			t.Errorf("ParsePrivatePEM(%s) = %v, want an error", name, k)
		}
	}
	if _, err := PublicPEM(&p384.PublicKey); err == nil {
		t.Error("PublicPEM accepted a P-384 key")
	}
	if _, err := PublicPEM(nil); err == nil {
		t.Error("PublicPEM accepted nil")
	}
	if _, err := PrivatePEM(p384); err == nil {
		t.Error("PrivatePEM accepted a P-384 key")
	}
	if _, err := PrivatePEM(nil); err == nil {
		t.Error("PrivatePEM accepted nil")
	}
}
