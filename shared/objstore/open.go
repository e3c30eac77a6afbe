package objstore

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// OpenOptions are what a spec string cannot or should not carry.
type OpenOptions struct {
	// AccessKey and SecretKey are S3 credentials (from flags or the
	// environment); empty means the AWS credential chain. Credentials are
	// never read from the spec, which ends up in process listings and logs.
	AccessKey string
	SecretKey string
	// PublicBaseURL and SigningSecret let a file: store presign URLs.
	PublicBaseURL string
	SigningSecret []byte
	Logger        *slog.Logger
}

// Open returns the store a spec names. Specs, as given to flags:
//
//	file:///var/lib/livestreams/objects     a Local directory (a plain path works too)
//	s3://bucket                             AWS, region and credentials from the AWS chain
//	s3://bucket/prefix?endpoint=http://127.0.0.1:7070&region=us-east-1&path_style=1
//
// Query parameters of s3: endpoint, region, path_style (1/0, true/false),
// part_size (bytes, or with a KiB/MiB/GiB suffix), concurrency,
// page_size, checksum (0 to disable x-amz-checksum-sha256), stall_timeout
// (a Go duration such as 2m). Unknown parameters are an error.
func Open(ctx context.Context, spec string, opts OpenOptions) (Store, error) {
	local, s3cfg, err := parseSpec(spec)
	if err != nil {
		return nil, err
	}
	if local != nil {
		local.PublicBaseURL = opts.PublicBaseURL
		local.SigningSecret = opts.SigningSecret
		local.Logger = opts.Logger
		return OpenLocal(*local)
	}
	s3cfg.AccessKey, s3cfg.SecretKey, s3cfg.Logger = opts.AccessKey, opts.SecretKey, opts.Logger
	return NewS3(ctx, *s3cfg)
}

// parseSpec turns a spec into the configuration of one of the stores.
// Errors name the offending part, never the whole spec.
func parseSpec(spec string) (*LocalConfig, *S3Config, error) {
	if spec == "" {
		return nil, nil, fmt.Errorf("object store spec is empty: want file:///dir or s3://bucket[/prefix][?endpoint=…]")
	}
	if !strings.Contains(spec, "://") {
		return &LocalConfig{Dir: filepath.Clean(spec)}, nil, nil
	}
	u, err := url.Parse(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("object store spec: not a URL: want file:///dir or s3://bucket[/prefix][?endpoint=…]")
	}
	if u.User != nil {
		return nil, nil, fmt.Errorf("object store spec: credentials in the URL are not accepted; use the access and secret key flags or the AWS credential chain")
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, nil, fmt.Errorf("object store spec: file URL with host %q: want file:///absolute/dir", u.Host)
		}
		if u.Path == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, nil, fmt.Errorf("object store spec: want file:///absolute/dir with no query")
		}
		return &LocalConfig{Dir: filepath.Clean(filepath.FromSlash(u.Path))}, nil, nil
	case "s3":
		cfg, err := parseS3(u)
		if err != nil {
			return nil, nil, fmt.Errorf("object store spec: %w", err)
		}
		return nil, cfg, nil
	}
	return nil, nil, fmt.Errorf("object store spec: scheme %q: want file or s3", u.Scheme)
}

func parseS3(u *url.URL) (*S3Config, error) {
	if u.Fragment != "" {
		return nil, fmt.Errorf("s3 URL with a #fragment")
	}
	cfg := &S3Config{Bucket: u.Host, Prefix: strings.TrimPrefix(u.Path, "/")}
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("s3 URL without a bucket: want s3://bucket[/prefix]")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("s3 URL query: %w", err)
	}
	for name, vals := range q {
		if len(vals) != 1 {
			return nil, fmt.Errorf("s3 parameter %s given %d times", name, len(vals))
		}
		v := vals[0]
		switch name {
		case "endpoint":
			cfg.Endpoint = v
		case "region":
			cfg.Region = v
		case "path_style":
			cfg.PathStyle, err = strconv.ParseBool(v)
		case "checksum":
			var on bool
			on, err = strconv.ParseBool(v)
			cfg.DisableChecksums = !on
		case "part_size":
			cfg.PartSize, err = parseBytes(v)
		case "concurrency":
			cfg.Concurrency, err = strconv.Atoi(v)
		case "page_size":
			cfg.ListPageSize, err = strconv.Atoi(v)
		case "stall_timeout":
			cfg.StallTimeout, err = time.ParseDuration(v)
		default:
			return nil, fmt.Errorf("unknown s3 parameter %q: want endpoint, region, path_style, part_size, concurrency, page_size, checksum or stall_timeout", name)
		}
		if err != nil {
			return nil, fmt.Errorf("s3 parameter %s=%q: %w", name, v, err)
		}
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseBytes reads "16777216", "16MiB", "512KiB" or "1GiB".
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("want a positive number of bytes, optionally with KiB, MiB or GiB")
	}
	return n * mult, nil
}
