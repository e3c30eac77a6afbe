package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The dev edge's RTMPS certificate: self-signed for the loopback names,
// made on the first start and kept in the data dir, so an encoder told to
// trust it once goes on trusting it across restarts.
const (
	devCertFile     = "rtmps.crt"
	devKeyFile      = "rtmps.key"
	devCertLifetime = 365 * 24 * time.Hour
	// devCertRenewal is how close to expiry a kept pair is made again.
	devCertRenewal = 24 * time.Hour
)

// devTLSPair returns the paths of the dev RTMPS pair in dir, making a new
// self-signed one (key 0600) unless dir holds a pair that loads and is
// valid for more than a day after now.
func devTLSPair(dir string, now time.Time) (certPath, keyPath string, err error) {
	certPath, keyPath = filepath.Join(dir, devCertFile), filepath.Join(dir, devKeyFile)
	if pair, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && now.Add(devCertRenewal).Before(pair.Leaf.NotAfter) {
		return certPath, keyPath, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("dev rtmps certificate: %w", err)
	}
	certPEM, keyPEM, err := selfSigned(now)
	if err != nil {
		return "", "", fmt.Errorf("dev rtmps certificate: %w", err)
	}
	// The key first: a crash between the two renames leaves a pair that
	// does not load, which the next start makes again.
	for _, f := range []struct {
		path string
		data []byte
	}{{keyPath, keyPEM}, {certPath, certPEM}} {
		if err := writeFileAtomic(f.path, f.data); err != nil {
			return "", "", fmt.Errorf("dev rtmps certificate: %w", err)
		}
	}
	return certPath, keyPath, nil
}

// selfSigned makes an ECDSA P-256 server certificate for localhost,
// 127.0.0.1 and ::1, signed by its own key, as PEM.
func selfSigned(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, fmt.Errorf("serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"Livestreams dev"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(devCertLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// writeFileAtomic writes data to path with mode 0600 through a rename, so
// a reader (the edge's certificate reloader) never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
