package objstore

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
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
	fs.Var((*specValue)(&f.Spec), "object-store", "where recordings and VOD live: s3://bucket[/prefix][?endpoint=URL&region=R&path_style=1], file:///dir or a directory path (one machine only; a relative path is taken from the working directory); empty keeps recordings on the edges")
	fs.StringVar(&f.AccessKey, "s3-access-key", "", "S3 access key id (default: the AWS credential chain)")
	fs.StringVar(&f.SecretKey, "s3-secret-key", "", "S3 secret access key (default: the AWS credential chain)")
}

// Open opens the store the flags name, or returns nil when --object-store
// is empty. A file: store presigns URLs under publicBaseURL, which must
// serve its Handler at /objects/; they are signed with the secret kept in
// its directory, so they stay valid across restarts.
func (f *Flags) Open(ctx context.Context, publicBaseURL string, logger *slog.Logger) (Store, error) {
	if f.Spec == "" {
		return nil, nil
	}
	return Open(ctx, f.Spec, OpenOptions{AccessKey: f.AccessKey, SecretKey: f.SecretKey,
		PublicBaseURL: publicBaseURL, Logger: logger})
}

// specValue is the --object-store flag: a local spec (a plain path, or a
// file: URL with a relative path such as file:.data/objects) is made
// absolute against the working directory when the flag is set, so the
// spec means the same directory wherever it is used later.
type specValue string

func (v *specValue) String() string { return string(*v) }

func (v *specValue) Set(s string) error {
	abs, err := AbsSpec(s)
	if err != nil {
		return err
	}
	*v = specValue(abs)
	return nil
}

// AbsSpec returns spec with a local directory made absolute: a plain path
// or file:relative/dir becomes file:///abs/dir. Other specs (s3:, an
// absolute file:///dir) and the empty spec are returned unchanged.
func AbsSpec(spec string) (string, error) {
	var p string
	switch {
	case spec == "", strings.HasPrefix(spec, "file://"), strings.Contains(spec, "://"):
		return spec, nil
	case strings.HasPrefix(spec, "file:"):
		p = strings.TrimPrefix(spec, "file:")
	default:
		p = spec
	}
	if p == "" {
		return "", fmt.Errorf("object store spec: file: without a directory")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("object store spec: directory %q: %w", p, err)
	}
	return LocalSpec(abs), nil
}

// LocalSpec is the file: spec of a local directory.
func LocalSpec(dir string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
}
