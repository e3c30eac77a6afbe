package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Config configures an S3 store. The zero values of the optional fields
// suit AWS and the common S3-compatible services.
type S3Config struct {
	// Endpoint is the service URL for anything but AWS, such as
	// "http://127.0.0.1:7070" (MinIO, versitygw) or
	// "https://ACCOUNT.r2.cloudflarestorage.com". Empty means AWS.
	Endpoint string
	// Region defaults to the AWS configuration's, else "us-east-1".
	Region string
	Bucket string
	// AccessKey and SecretKey are static credentials; leave both empty to
	// use the usual AWS chain (environment, shared files, instance role).
	AccessKey string
	SecretKey string
	// PathStyle addresses the bucket as endpoint/bucket/key instead of
	// bucket.endpoint/key; MinIO and versitygw need it.
	PathStyle bool
	// Prefix is put before every key, so one bucket can hold several
	// installations; a missing trailing "/" is added.
	Prefix string
	// PartSize is the size of one part of a multipart upload, between
	// MinPartSize and 5 GiB (default DefaultPartSize). An object larger than
	// one part goes up in parts: a single PUT must carry the SHA-256 in its
	// headers, so its body is buffered first, and buffering at most one part
	// bounds memory at PartSize × (Concurrency+1) per upload.
	PartSize int64
	// Concurrency is how many parts of one upload are in flight (default 4).
	Concurrency int
	// ListPageSize is the number of keys per list request, 1 to 1000
	// (default 1000).
	ListPageSize int
	// DisableChecksums stops sending x-amz-checksum-sha256 (and stops the
	// SDK adding CRC32 checksums) for services that reject them. The
	// content SHA-256 still goes into x-amz-meta-sha256.
	DisableChecksums bool
	// StallTimeout drops a connection that moves no bytes for this long
	// (default DefaultStallTimeout).
	StallTimeout time.Duration
	// MaxAttempts bounds the SDK's attempts per request (default 3).
	MaxAttempts int
	// Logger receives warnings such as an abort that failed (default:
	// discarded).
	Logger *slog.Logger
}

const (
	// DefaultPartSize is the default multipart part size.
	DefaultPartSize = 16 << 20
	// MinPartSize is S3's smallest part (except the last).
	MinPartSize = 5 << 20
	// DefaultStallTimeout is the default S3Config.StallTimeout.
	DefaultStallTimeout = 2 * time.Minute

	maxPartSize  = 5 << 30
	maxParts     = 10000
	maxCopySize  = 5 << 30
	abortTimeout = 30 * time.Second
	// metaSHA256 is the user metadata (x-amz-meta-sha256) that holds the
	// content's hex SHA-256.
	metaSHA256 = "sha256"
)

// S3 stores objects in an S3 bucket through aws-sdk-go-v2.
type S3 struct {
	client    *s3.Client
	presigner *s3.PresignClient
	bucket    string
	prefix    string
	aws       bool // no custom endpoint
	region    string
	checksums bool
	partSize  int64
	parallel  int
	pageSize  int32
	log       *slog.Logger
	bufs      sync.Pool
}

// NewS3 returns an S3 store. It makes no request: call EnsureBucket (or
// Stat) to find out whether the bucket and credentials work.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if err := cfg.fill(); err != nil {
		return nil, fmt.Errorf("s3 object store: %w", err)
	}
	hc := newHTTPClient(cfg.StallTimeout)
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(hc),
		config.WithRetryMaxAttempts(cfg.MaxAttempts),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	if cfg.DisableChecksums {
		opts = append(opts,
			config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
			config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 object store: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Multipart objects carry composite checksums, which the SDK cannot
		// check and says so on every Get; Get checks x-amz-meta-sha256.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return &S3{
		client: client,
		// A presigned URL must not commit the uploader to a checksum of
		// a body the SDK has not seen.
		presigner: s3.NewPresignClient(client, func(o *s3.PresignOptions) {
			o.ClientOptions = append(o.ClientOptions, func(o *s3.Options) {
				o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			})
		}),
		bucket:    cfg.Bucket,
		prefix:    cfg.Prefix,
		aws:       cfg.Endpoint == "",
		region:    awsCfg.Region,
		checksums: !cfg.DisableChecksums,
		partSize:  cfg.PartSize,
		parallel:  cfg.Concurrency,
		pageSize:  int32(cfg.ListPageSize),
		log:       cfg.Logger,
	}, nil
}

// fill checks the configuration and sets defaults.
func (c *S3Config) fill() error {
	if c.Bucket == "" || strings.ContainsAny(c.Bucket, "/ ") {
		return fmt.Errorf("bucket %q: want a bucket name", c.Bucket)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("endpoint %q: want http(s)://host[:port]", c.Endpoint)
		}
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return errors.New("access key and secret key: set both, or neither to use the AWS credential chain")
	}
	if c.Prefix != "" {
		if !strings.HasSuffix(c.Prefix, "/") {
			c.Prefix += "/"
		}
		if err := ValidatePrefix(c.Prefix); err != nil {
			return err
		}
	}
	switch {
	case c.PartSize == 0:
		c.PartSize = DefaultPartSize
	case c.PartSize < MinPartSize || c.PartSize > maxPartSize:
		return fmt.Errorf("part size %d: want %d to %d bytes", c.PartSize, MinPartSize, maxPartSize)
	}
	switch {
	case c.Concurrency == 0:
		c.Concurrency = 4
	case c.Concurrency < 0 || c.Concurrency > 64:
		return fmt.Errorf("concurrency %d: want 1 to 64", c.Concurrency)
	}
	switch {
	case c.ListPageSize == 0:
		c.ListPageSize = 1000
	case c.ListPageSize < 0 || c.ListPageSize > 1000:
		return fmt.Errorf("list page size %d: want 1 to 1000", c.ListPageSize)
	}
	switch {
	case c.StallTimeout == 0:
		c.StallTimeout = DefaultStallTimeout
	case c.StallTimeout < 0:
		return fmt.Errorf("stall timeout %s: want > 0", c.StallTimeout)
	}
	switch {
	case c.MaxAttempts == 0:
		c.MaxAttempts = 3
	case c.MaxAttempts < 0:
		return fmt.Errorf("max attempts %d: want >= 1", c.MaxAttempts)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Bucket returns the bucket's name.
func (s *S3) Bucket() string { return s.bucket }

// Close does nothing: idle connections close themselves after 90s. It is
// there so that S3 and Local are closed alike.
func (s *S3) Close() error { return nil }

func (s *S3) full(key string) string { return s.prefix + key }

func (s *S3) where(key string) string { return "s3://" + s.bucket + "/" + s.prefix + key }

// fail wraps err with the operation and the object's s3:// address, and
// maps the service's errors onto the package's sentinels.
func (s *S3) fail(op, key string, err error) error {
	if errors.Is(err, ErrInvalidKey) {
		return fmt.Errorf("%s: %w", op, err)
	}
	where := s.where(key)
	code, status := apiError(err)
	switch {
	case code == "NoSuchBucket":
		return fmt.Errorf("%s %s: bucket %q does not exist: %w", op, where, s.bucket, err)
	case isNotFound(code, status):
		return fmt.Errorf("%s %s: %w", op, where, ErrNotFound)
	case code == "InvalidRange" || status == http.StatusRequestedRangeNotSatisfiable:
		return fmt.Errorf("%s %s: %w: %w", op, where, ErrInvalidRange, err)
	case code == "BadDigest" || code == "InvalidDigest" || code == "XAmzContentChecksumMismatch" || code == "XAmzContentSHA256Mismatch":
		return fmt.Errorf("%s %s: %w: %w", op, where, ErrChecksumMismatch, err)
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}

func apiError(err error) (code string, status int) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

func isNotFound(code string, status int) bool {
	switch code {
	case "NoSuchKey", "NotFound":
		return true
	case "NoSuchBucket", "NoSuchUpload":
		return false
	}
	return status == http.StatusNotFound
}

// info builds an ObjectInfo from a Get or Head response.
func (s *S3) info(key string, size *int64, etag, contentType *string, mod *time.Time, meta map[string]string) ObjectInfo {
	info := ObjectInfo{Key: key, Size: aws.ToInt64(size), ETag: trimETag(etag), ContentType: aws.ToString(contentType), ModTime: aws.ToTime(mod)}
	if size == nil {
		info.Size = -1
	}
	for k, v := range meta {
		if strings.EqualFold(k, metaSHA256) {
			info.SHA256, _ = normalizeSHA256(v)
		}
	}
	return info
}

func trimETag(etag *string) string { return strings.Trim(aws.ToString(etag), `"`) }

// EnsureBucket creates the bucket unless it exists and is ours.
func (s *S3) EnsureBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if err == nil {
		return nil
	}
	if code, status := apiError(err); !isNotFound(code, status) && code != "NoSuchBucket" {
		return fmt.Errorf("ensure bucket %s: %w", s.bucket, err)
	}
	in := &s3.CreateBucketInput{Bucket: &s.bucket}
	if s.aws && s.region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(s.region)}
	}
	if _, err := s.client.CreateBucket(ctx, in); err != nil {
		if code, _ := apiError(err); code == "BucketAlreadyOwnedByYou" {
			return nil
		}
		return fmt.Errorf("create bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return nil, ObjectInfo{}, s.fail("get", key, err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.full(key))})
	if err != nil {
		return nil, ObjectInfo{}, s.fail("get", key, err)
	}
	info := s.info(key, out.ContentLength, out.ETag, out.ContentType, out.LastModified, out.Metadata)
	return newVerifyReader(out.Body, info.Size, info.SHA256, s.where(key)), info, nil
}

// GetRange implements Store.
func (s *S3) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, s.fail("get", key, err)
	}
	if err := checkRange(off, n); err != nil {
		return nil, s.fail("get", key, err)
	}
	rng := fmt.Sprintf("bytes=%d-", off)
	if n > 0 && n <= math.MaxInt64-off {
		rng = fmt.Sprintf("bytes=%d-%d", off, off+n-1)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.full(key)), Range: &rng})
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	if out.ContentRange == nil {
		// The server sent the whole object (allowed by HTTP); cut it here.
		size := aws.ToInt64(out.ContentLength)
		if out.ContentLength != nil && off >= size {
			out.Body.Close()
			return nil, s.fail("get", key, fmt.Errorf("offset %d of %d bytes: %w", off, size, ErrInvalidRange))
		}
		if _, err := io.CopyN(io.Discard, out.Body, off); err != nil {
			out.Body.Close()
			return nil, s.fail("get", key, err)
		}
		var r io.Reader = out.Body
		if n > 0 {
			r = io.LimitReader(r, n)
		}
		return struct {
			io.Reader
			io.Closer
		}{r, out.Body}, nil
	}
	return out.Body, nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, s.fail("stat", key, err)
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.full(key))})
	if err != nil {
		return ObjectInfo{}, s.fail("stat", key, err)
	}
	return s.info(key, out.ContentLength, out.ETag, out.ContentType, out.LastModified, out.Metadata), nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return s.fail("delete", key, err)
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.full(key))})
	if code, status := apiError(err); err != nil && !isNotFound(code, status) {
		return s.fail("delete", key, err)
	}
	return nil
}

// DeletePrefix implements Store: one DeleteObjects request per listed page.
func (s *S3) DeletePrefix(ctx context.Context, prefix string) error {
	if err := checkDeletePrefix(prefix); err != nil {
		return fmt.Errorf("delete prefix: %w", err)
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.full(prefix)), MaxKeys: &s.pageSize})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.fail("delete prefix", prefix, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &s.bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return s.fail("delete prefix", prefix, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return s.fail("delete prefix", prefix, fmt.Errorf("%d objects not deleted, the first %s: %s: %s",
				len(out.Errors), aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message)))
		}
	}
	return nil
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := ValidatePrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.full(prefix)), MaxKeys: &s.pageSize})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.fail("list", prefix, err)
		}
		for _, o := range page.Contents {
			info := ObjectInfo{
				Key:     strings.TrimPrefix(aws.ToString(o.Key), s.prefix),
				Size:    aws.ToInt64(o.Size),
				ETag:    trimETag(o.ETag),
				ModTime: aws.ToTime(o.LastModified),
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// PresignGet implements Store.
func (s *S3) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", s.fail("presign get", key, err)
	}
	if err := checkTTL(ttl); err != nil {
		return "", s.fail("presign get", key, err)
	}
	req, err := s.presigner.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.full(key))}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", s.fail("presign get", key, err)
	}
	return req.URL, nil
}

// PresignPut implements Store. An object uploaded through the URL has no
// x-amz-meta-sha256 (the URL cannot know it), so Stat reports its SHA256 as
// unknown. Size and Once become signed headers (Content-Length,
// If-None-Match: *): S3 refuses a PUT without them, or with another length,
// as a signature mismatch, and a PUT onto an existing object with 412.
func (s *S3) PresignPut(ctx context.Context, key string, ttl time.Duration, opts PresignPutOptions) (PresignedPut, error) {
	if err := ValidateKey(key); err != nil {
		return PresignedPut{}, s.fail("presign put", key, err)
	}
	if err := checkTTL(ttl); err != nil {
		return PresignedPut{}, s.fail("presign put", key, err)
	}
	if opts.Size < 0 {
		return PresignedPut{}, s.fail("presign put", key, fmt.Errorf("size %d is negative", opts.Size))
	}
	in := &s3.PutObjectInput{Bucket: &s.bucket, Key: aws.String(s.full(key))}
	if opts.ContentType != "" {
		in.ContentType = &opts.ContentType
	}
	if opts.Size > 0 {
		in.ContentLength = aws.Int64(opts.Size)
	}
	if opts.Once {
		in.IfNoneMatch = aws.String("*")
	}
	req, err := s.presigner.PresignPutObject(ctx, in, s3.WithPresignExpires(ttl))
	if err != nil {
		return PresignedPut{}, s.fail("presign put", key, err)
	}
	h := http.Header{}
	for k, v := range req.SignedHeader {
		// Host and Content-Length come with the request itself.
		if k = http.CanonicalHeaderKey(k); k != "Host" && k != "Content-Length" {
			h[k] = v
		}
	}
	return PresignedPut{URL: req.URL, Header: h}, nil
}
