package objstore

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Key rules. A key is a relative, slash-separated path that means the same
// thing to S3, to a POSIX directory and in a URL path:
//
//   - 1 to MaxKeyLen bytes of valid UTF-8, with no control characters
//     (NUL included) and no backslash;
//   - no leading or trailing "/" and no empty segment ("a//b");
//   - no segment that starts with "." — this rules out "." and ".." (so a
//     key can never climb out of a Local directory) and leaves dot-names to
//     Local's own bookkeeping (.meta, .tmp);
//   - no segment longer than MaxSegmentLen bytes (a file name's limit).
//
// Both implementations apply the same rules, so a key that works in
// development with Local also works against S3.
const (
	MaxKeyLen     = 1024
	MaxSegmentLen = 255
)

// ValidateKey reports whether key is a valid object key; the error wraps
// ErrInvalidKey and says which rule failed.
func ValidateKey(key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("key %s: %w: %s", quoteKey(key), ErrInvalidKey, err)
	}
	return nil
}

// ValidatePrefix reports whether prefix can select keys in List or
// DeletePrefix: empty, or a valid key with an optional trailing "/".
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := checkKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("prefix %s: %w: %s", quoteKey(prefix), ErrInvalidKey, err)
	}
	return nil
}

func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("empty")
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%d bytes, the limit is %d", len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("not valid UTF-8")
	case key[0] == '/':
		return fmt.Errorf("starts with /")
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := checkSegment(seg); err != nil {
			return err
		}
	}
	return nil
}

func checkSegment(seg string) error {
	switch {
	case seg == "":
		return fmt.Errorf("empty path segment (trailing or double slash)")
	case seg[0] == '.':
		return fmt.Errorf("segment %q starts with a dot", seg)
	case len(seg) > MaxSegmentLen:
		return fmt.Errorf("segment of %d bytes, the limit is %d", len(seg), MaxSegmentLen)
	}
	for i := 0; i < len(seg); i++ {
		if c := seg[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("control character %#02x", c)
		} else if c == '\\' {
			return fmt.Errorf("backslash")
		}
	}
	return nil
}

// quoteKey quotes a key for an error message, cut short so that a hostile
// 1 MB key does not become a 1 MB log line.
func quoteKey(key string) string {
	const max = 128
	if len(key) > max {
		return fmt.Sprintf("%q…", key[:max])
	}
	return fmt.Sprintf("%q", key)
}

// Key layout. Everything an asset owns lives under one prefix, so deleting
// an asset is one DeletePrefix(AssetPrefix(org, asset)):
//
//	orgs/{org_id}/assets/{asset_id}/source.mp4              recording or uploaded source
//	orgs/{org_id}/assets/{asset_id}/hls/{rendition}/{file}  VOD renditions: playlist, init and media segments
//	orgs/{org_id}/assets/{asset_id}/thumbnail.jpg           poster image
//	orgs/{org_id}/assets/{asset_id}/storyboard.jpg          seek-preview sprite sheet
//	orgs/{org_id}/assets/{asset_id}/storyboard.vtt          WebVTT cues into the sprite sheet
//	orgs/{org_id}/assets/{asset_id}/captions/{lang}.vtt     captions in one language, whole (downloadable)
//	orgs/{org_id}/assets/{asset_id}/hls/subs_{lang}/{file}  the same as an HLS subtitles rendition: index.m3u8, subs_N.vtt
//
// Ids and rendition names are single segments of [A-Za-z0-9_-], at most 128
// bytes (control-plane ids such as "ast_5kq…" qualify).
const (
	SourceFile          = "source.mp4"
	ThumbnailFile       = "thumbnail.jpg"
	StoryboardImageFile = "storyboard.jpg"
	StoryboardVTTFile   = "storyboard.vtt"
	HLSDir              = "hls"
	CaptionsDir         = "captions"
)

const maxIDLen = 128

func checkID(what, id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("%s %s: %w: want 1 to %d characters", what, quoteKey(id), ErrInvalidKey, maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%s %s: %w: want only letters, digits, _ and -", what, quoteKey(id), ErrInvalidKey)
		}
	}
	return nil
}

// OrgPrefix returns "orgs/{org_id}/", the prefix of everything an
// organization stores.
func OrgPrefix(orgID string) (string, error) {
	if err := checkID("org id", orgID); err != nil {
		return "", err
	}
	return "orgs/" + orgID + "/", nil
}

// AssetPrefix returns "orgs/{org_id}/assets/{asset_id}/", the prefix of
// everything one asset stores.
func AssetPrefix(orgID, assetID string) (string, error) {
	org, err := OrgPrefix(orgID)
	if err != nil {
		return "", err
	}
	if err := checkID("asset id", assetID); err != nil {
		return "", err
	}
	return org + "assets/" + assetID + "/", nil
}

// AssetKey returns the key of name inside an asset, for example
// AssetKey(org, asset, SourceFile). name is a relative path under the
// asset's prefix and follows the key rules.
func AssetKey(orgID, assetID, name string) (string, error) {
	prefix, err := AssetPrefix(orgID, assetID)
	if err != nil {
		return "", err
	}
	key := prefix + name
	if err := checkKey(name); err != nil {
		return "", fmt.Errorf("asset object name %s: %w: %s", quoteKey(name), ErrInvalidKey, err)
	}
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return key, nil
}

// RenditionKey returns "orgs/{org_id}/assets/{asset_id}/hls/{rendition}/{file}",
// where file is one segment such as "index.m3u8", "init.mp4" or "seg_00001.m4s".
func RenditionKey(orgID, assetID, rendition, file string) (string, error) {
	if err := checkID("rendition", rendition); err != nil {
		return "", err
	}
	if strings.Contains(file, "/") {
		return "", fmt.Errorf("rendition file %s: %w: want one path segment", quoteKey(file), ErrInvalidKey)
	}
	if err := checkSegment(file); err != nil {
		return "", fmt.Errorf("rendition file %s: %w: %s", quoteKey(file), ErrInvalidKey, err)
	}
	return AssetKey(orgID, assetID, HLSDir+"/"+rendition+"/"+file)
}

// maxLanguageLen bounds a language tag (RFC 5646 allows longer ones, but
// nobody captions in them).
const maxLanguageLen = 35

// CheckLanguage reports whether lang is a language tag fit for a key and a
// playlist: a primary subtag of 2 or 3 lower-case letters ("en"), then
// subtags of 1 to 8 letters or digits after "-" ("pt-BR", "zh-Hant").
func CheckLanguage(lang string) error {
	bad := fmt.Errorf("language %s: %w: want a tag such as en or pt-BR", quoteKey(lang), ErrInvalidKey)
	if len(lang) > maxLanguageLen {
		return bad
	}
	for i, sub := range strings.Split(lang, "-") {
		n := len(sub)
		if i == 0 && (n < 2 || n > 3) || n < 1 || n > 8 {
			return bad
		}
		for j := 0; j < n; j++ {
			c := sub[j]
			lower, upper, digit := c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9'
			if i == 0 && !lower || !(lower || upper || digit) {
				return bad
			}
		}
	}
	return nil
}

// CaptionsFile returns "captions/{lang}.vtt", the name of an asset's
// whole WebVTT file in one language, relative to the asset's prefix.
func CaptionsFile(lang string) (string, error) {
	if err := CheckLanguage(lang); err != nil {
		return "", err
	}
	return CaptionsDir + "/" + lang + ".vtt", nil
}

// SubtitlesRendition returns "subs_{lang}", the rendition directory (under
// HLSDir, beside the video renditions) of an asset's subtitles in one
// language: index.m3u8 and its subs_N.vtt segments.
func SubtitlesRendition(lang string) (string, error) {
	if err := CheckLanguage(lang); err != nil {
		return "", err
	}
	return "subs_" + lang, nil
}
