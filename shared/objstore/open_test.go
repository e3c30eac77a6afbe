package objstore

import (
	"strings"
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	for _, c := range []struct {
		spec  string
		local string    // wanted Local directory
		s3    *S3Config // wanted S3 fields (those compared below)
		err   string    // wanted error substring
	}{
		{spec: "file:///var/lib/livestreams/objects", local: "/var/lib/livestreams/objects"},
		{spec: "file://localhost/srv/x/", local: "/srv/x"},
		{spec: "/srv/objects", local: "/srv/objects"},
		{spec: "./data/objects", local: "data/objects"},
		{spec: "s3://recordings", s3: &S3Config{Bucket: "recordings", PartSize: DefaultPartSize, Concurrency: 4, ListPageSize: 1000, StallTimeout: DefaultStallTimeout, MaxAttempts: 3}},
		{
			spec: "s3://bucket/prefix?endpoint=http://127.0.0.1:7070&region=us-east-1&path_style=1",
			s3:   &S3Config{Bucket: "bucket", Prefix: "prefix/", Endpoint: "http://127.0.0.1:7070", Region: "us-east-1", PathStyle: true, PartSize: DefaultPartSize, Concurrency: 4, ListPageSize: 1000, StallTimeout: DefaultStallTimeout, MaxAttempts: 3},
		},
		{
			spec: "s3://b/a/b/?part_size=32MiB&concurrency=8&page_size=100&checksum=0&stall_timeout=30s&path_style=true",
			s3:   &S3Config{Bucket: "b", Prefix: "a/b/", PathStyle: true, PartSize: 32 << 20, Concurrency: 8, ListPageSize: 100, DisableChecksums: true, StallTimeout: 30 * time.Second, MaxAttempts: 3},
		},
		{spec: "", err: "empty"},
		{spec: "gs://bucket", err: `scheme "gs"`},
		{spec: "s3://", err: "without a bucket"},
		{spec: "s3://key:secret@bucket", err: "credentials in the URL"},
		{spec: "s3://b?acess_key=x", err: `unknown s3 parameter "acess_key"`},
		{spec: "s3://b?part_size=1MiB", err: "part size"},
		{spec: "s3://b?part_size=lots", err: "part_size"},
		{spec: "s3://b?path_style=yes", err: "path_style"},
		{spec: "s3://b?region=a&region=b", err: "given 2 times"},
		{spec: "s3://b?endpoint=localhost:9000", err: "endpoint"},
		{spec: "s3://b/../x", err: "prefix"},
		{spec: "file://host/x", err: "host"},
		{spec: "file:///x?y=1", err: "no query"},
	} {
		local, s3cfg, err := parseSpec(c.spec)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseSpec(%q): %v, want an error about %q", c.spec, err, c.err)
			}
			if err != nil && strings.Contains(c.spec, "secret") && strings.Contains(err.Error(), "secret@") {
				t.Errorf("parseSpec(%q): error %q repeats the credentials", c.spec, err)
			}
		case err != nil:
			t.Errorf("parseSpec(%q): %v", c.spec, err)
		case c.local != "":
			if local == nil || local.Dir != c.local {
				t.Errorf("parseSpec(%q) = %+v, want Local in %s", c.spec, local, c.local)
			}
		default:
			if s3cfg == nil {
				t.Errorf("parseSpec(%q) gave no S3 config", c.spec)
				continue
			}
			got := *s3cfg
			got.Logger = nil
			if got != *c.s3 {
				t.Errorf("parseSpec(%q) =\n%+v\nwant\n%+v", c.spec, got, *c.s3)
			}
		}
	}
}
