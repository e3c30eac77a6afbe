package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Put implements Store. An object of at most one part is buffered and sent
// in one PUT with its SHA-256 in x-amz-checksum-sha256 (checked by the
// server) and x-amz-meta-sha256. A larger one is read part by part, each
// part sent with its own checksum while the next is read, and the whole is
// hashed on the way; the upload is completed only if the length and
// checksum are right, and aborted otherwise.
//
// Multipart metadata is fixed when the upload starts, so without
// PutOptions.SHA256 the checksum is recorded afterwards by copying the
// object onto itself — which S3 allows up to 5 GiB. Past that, pass
// PutOptions.SHA256 (PutFile does) or Stat will not know the checksum.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, s.fail("put", key, err)
	}
	want, err := normalizeSHA256(opts.SHA256)
	if err != nil {
		return ObjectInfo{}, s.fail("put", key, err)
	}
	if err := checkSize(size); err != nil {
		return ObjectInfo{}, s.fail("put", key, err)
	}
	info, err := s.put(ctx, key, ctxReader{ctx, r}, size, opts.withDefaults(key), want)
	if err != nil {
		return ObjectInfo{}, s.fail("put", key, err)
	}
	return info, nil
}

// PutFile implements Store. A file larger than one part is hashed before
// it is uploaded, so that the checksum goes into the multipart upload's
// metadata; the upload re-hashes what it sends and fails if the file
// changed in between.
func (s *S3) PutFile(ctx context.Context, key, name string, opts PutOptions) (ObjectInfo, error) {
	if err := ValidateKey(key); err != nil {
		return ObjectInfo{}, s.fail("put", key, err)
	}
	f, size, err := openRegular(name)
	if err != nil {
		return ObjectInfo{}, s.fail("put", key, err)
	}
	defer f.Close()
	if opts.SHA256 == "" && size > s.partSize {
		if opts.SHA256, err = hashFile(ctx, f); err != nil {
			return ObjectInfo{}, s.fail("put", key, fmt.Errorf("hash %s: %w", name, err))
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return ObjectInfo{}, s.fail("put", key, err)
		}
	}
	return s.Put(ctx, key, f, size, opts)
}

func (s *S3) getBuf() []byte {
	if b, ok := s.bufs.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, s.partSize)
}

func (s *S3) putBuf(b []byte) {
	b = b[:cap(b)]
	s.bufs.Put(&b)
}

func (s *S3) put(ctx context.Context, key string, src io.Reader, size int64, opts PutOptions, want string) (ObjectInfo, error) {
	buf := s.getBuf()
	if size >= 0 && size <= s.partSize {
		defer s.putBuf(buf)
		body := buf[:size]
		if n, err := io.ReadFull(src, body); err == io.ErrUnexpectedEOF || err == io.EOF {
			return ObjectInfo{}, fmt.Errorf("reader ended after %d of %d bytes: %w", n, size, ErrSizeMismatch)
		} else if err != nil {
			return ObjectInfo{}, err
		}
		var one [1]byte
		if m, err := io.ReadFull(src, one[:]); m > 0 {
			return ObjectInfo{}, fmt.Errorf("reader has more than the declared %d bytes: %w", size, ErrSizeMismatch)
		} else if err != io.EOF {
			return ObjectInfo{}, err
		}
		return s.putSingle(ctx, key, body, opts, want)
	}
	n, err := io.ReadFull(src, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		defer s.putBuf(buf)
		if size >= 0 {
			return ObjectInfo{}, fmt.Errorf("reader ended after %d of %d bytes: %w", n, size, ErrSizeMismatch)
		}
		return s.putSingle(ctx, key, buf[:n], opts, want)
	case err != nil:
		s.putBuf(buf)
		return ObjectInfo{}, err
	}
	return s.putMultipart(ctx, key, src, buf, size, opts, want)
}

func (s *S3) putSingle(ctx context.Context, key string, body []byte, opts PutOptions, want string) (ObjectInfo, error) {
	sum := sha256.Sum256(body)
	hexSum := hex.EncodeToString(sum[:])
	if want != "" && hexSum != want {
		return ObjectInfo{}, fmt.Errorf("content hashes to %s, want %s: %w", hexSum, want, ErrChecksumMismatch)
	}
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           aws.String(s.full(key)),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		Metadata:      map[string]string{metaSHA256: hexSum},
	}
	setHeaders(&in.ContentType, &in.CacheControl, opts)
	if s.checksums {
		in.ChecksumSHA256 = aws.String(base64.StdEncoding.EncodeToString(sum[:]))
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return ObjectInfo{}, err
	}
	return ObjectInfo{Key: key, Size: int64(len(body)), ETag: trimETag(out.ETag), SHA256: hexSum, ContentType: opts.ContentType}, nil
}

func setHeaders(contentType, cacheControl **string, opts PutOptions) {
	if opts.ContentType != "" {
		*contentType = aws.String(opts.ContentType)
	}
	if opts.CacheControl != "" {
		*cacheControl = aws.String(opts.CacheControl)
	}
}

// putMultipart uploads first and the rest of src as a multipart upload.
// It owns first (a pooled buffer).
func (s *S3) putMultipart(ctx context.Context, key string, src io.Reader, first []byte, size int64, opts PutOptions, want string) (ObjectInfo, error) {
	full := s.full(key)
	create := &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &full}
	setHeaders(&create.ContentType, &create.CacheControl, opts)
	if want != "" {
		create.Metadata = map[string]string{metaSHA256: want}
	}
	if s.checksums {
		create.ChecksumAlgorithm = types.ChecksumAlgorithmSha256
	}
	up, err := s.client.CreateMultipartUpload(ctx, create)
	if err != nil {
		s.putBuf(first)
		return ObjectInfo{}, err
	}
	uploadID := aws.ToString(up.UploadId)
	completed := false
	defer func() {
		if completed {
			return
		}
		// The caller's context may be what ended the upload; the abort
		// still gets a bounded chance to free the parts.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if _, err := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &full, UploadId: &uploadID}); err != nil {
			s.log.Warn("abort multipart upload; a bucket lifecycle rule for incomplete uploads reclaims its parts",
				"bucket", s.bucket, "key", full, "err", err)
		}
	}()

	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		parts []types.CompletedPart
		total int64
	)
	h := sha256.New()
	inflight := make(chan struct{}, s.parallel)
	readErr := func() error {
		buf, n, last := first, len(first), false
		for num := int32(1); ; num++ {
			if num > maxParts {
				s.putBuf(buf)
				return fmt.Errorf("more than %d parts of %d bytes: raise the part size", maxParts, s.partSize)
			}
			h.Write(buf[:n])
			total += int64(n)
			if size >= 0 && total > size {
				s.putBuf(buf)
				return fmt.Errorf("reader has more than the declared %d bytes: %w", size, ErrSizeMismatch)
			}
			select {
			case inflight <- struct{}{}:
			case <-pctx.Done():
				s.putBuf(buf)
				return nil // whatever ended pctx is the error
			}
			wg.Add(1)
			go func(num int32, buf []byte, n int) {
				defer wg.Done()
				defer func() { <-inflight }()
				defer s.putBuf(buf)
				part, err := s.uploadPart(pctx, full, uploadID, num, buf[:n])
				if err != nil {
					cancel(fmt.Errorf("upload part %d: %w", num, err))
					return
				}
				mu.Lock()
				parts = append(parts, part)
				mu.Unlock()
			}(num, buf, n)
			if last {
				return nil
			}
			buf = s.getBuf()
			m, err := io.ReadFull(ctxReader{pctx, src}, buf)
			switch {
			case err == io.EOF:
				s.putBuf(buf)
				return nil
			case err == io.ErrUnexpectedEOF:
				last = true
			case err != nil:
				s.putBuf(buf)
				return err
			}
			n = m
		}
	}()
	wg.Wait()
	if err := context.Cause(pctx); err != nil {
		return ObjectInfo{}, err
	}
	if readErr != nil {
		return ObjectInfo{}, readErr
	}
	if size >= 0 && total != size {
		return ObjectInfo{}, fmt.Errorf("reader ended after %d of %d bytes: %w", total, size, ErrSizeMismatch)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if want != "" && sum != want {
		return ObjectInfo{}, fmt.Errorf("content hashes to %s, want %s: %w", sum, want, ErrChecksumMismatch)
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(aws.ToInt32(a.PartNumber) - aws.ToInt32(b.PartNumber)) })
	out, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &full, UploadId: &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("complete multipart upload: %w", err)
	}
	completed = true
	info := ObjectInfo{Key: key, Size: total, ETag: trimETag(out.ETag), SHA256: sum, ContentType: opts.ContentType}
	if want == "" {
		if total > maxCopySize {
			s.log.Warn("object over 5 GiB uploaded without PutOptions.SHA256: its checksum is not in its metadata",
				"bucket", s.bucket, "key", full, "size", total)
			return info, nil
		}
		if info.ETag, err = s.recordSHA256(ctx, full, info.ETag, sum, opts); err != nil {
			return ObjectInfo{}, fmt.Errorf("record sha256 in metadata: %w", err)
		}
	}
	return info, nil
}

func (s *S3) uploadPart(ctx context.Context, full, uploadID string, num int32, data []byte) (types.CompletedPart, error) {
	in := &s3.UploadPartInput{
		Bucket: &s.bucket, Key: &full, UploadId: &uploadID, PartNumber: aws.Int32(num),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	}
	part := types.CompletedPart{PartNumber: aws.Int32(num)}
	if s.checksums {
		sum := sha256.Sum256(data)
		c := base64.StdEncoding.EncodeToString(sum[:])
		in.ChecksumSHA256, part.ChecksumSHA256 = &c, &c
	}
	out, err := s.client.UploadPart(ctx, in)
	if err != nil {
		return part, err
	}
	part.ETag = out.ETag
	return part, nil
}

// recordSHA256 copies the object onto itself with x-amz-meta-sha256 set,
// provided it is still the one just uploaded (etag), and returns the new
// ETag.
func (s *S3) recordSHA256(ctx context.Context, full, etag, sum string, opts PutOptions) (string, error) {
	in := &s3.CopyObjectInput{
		Bucket:            &s.bucket,
		Key:               &full,
		CopySource:        aws.String(escapeKey(s.bucket + "/" + full)),
		CopySourceIfMatch: aws.String(`"` + etag + `"`),
		MetadataDirective: types.MetadataDirectiveReplace,
		Metadata:          map[string]string{metaSHA256: sum},
	}
	setHeaders(&in.ContentType, &in.CacheControl, opts)
	if s.checksums {
		in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256
	}
	out, err := s.client.CopyObject(ctx, in)
	if err != nil {
		return "", err
	}
	if out.CopyObjectResult == nil {
		return etag, nil
	}
	return trimETag(out.CopyObjectResult.ETag), nil
}
