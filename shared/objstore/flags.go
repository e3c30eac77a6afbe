package objstore

import (
	"context"
	"crypto/rand"
	"flag"
	"log/slog"
)

// Flags are the command-line settings of an object store, shared by the
// control and edge commands (each flag also reads its LIVESTREAMS_*
// environment variable through package config).
type Flags struct {
	Spec      string
	AccessKey string
	SecretKey string
}

// Register adds --object-store, --s3-access-key and --s3-secret-key.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Spec, "object-store", "", "where recordings and VOD live: s3://bucket[/prefix][?endpoint=URL&region=R&path_style=1] or file:///dir (one machine only); empty keeps recordings on the edges")
	fs.StringVar(&f.AccessKey, "s3-access-key", "", "S3 access key id (default: the AWS credential chain)")
	fs.StringVar(&f.SecretKey, "s3-secret-key", "", "S3 secret access key (default: the AWS credential chain)")
}

// Open opens the store the flags name, or returns nil when --object-store
// is empty. A file: store presigns URLs under publicBaseURL, which must
// serve its Handler at /objects/; they are signed with a key of this
// process, so they stay valid while it runs.
func (f *Flags) Open(ctx context.Context, publicBaseURL string, logger *slog.Logger) (Store, error) {
	if f.Spec == "" {
		return nil, nil
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	return Open(ctx, f.Spec, OpenOptions{AccessKey: f.AccessKey, SecretKey: f.SecretKey,
		PublicBaseURL: publicBaseURL, SigningSecret: secret, Logger: logger})
}
