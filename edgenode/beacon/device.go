package beacon

import "strings"

// Device classes.
const (
	DeviceDesktop = "desktop"
	DeviceMobile  = "mobile"
	DeviceTablet  = "tablet"
	DeviceTV      = "tv"
	DeviceBot     = "bot"
	DeviceOther   = "other"
)

// DeviceClass sorts a User-Agent into a coarse class; the agent itself is
// not kept.
func DeviceClass(ua string) string {
	if len(ua) > 512 {
		ua = ua[:512]
	}
	u := strings.ToLower(ua)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(u, s) {
				return true
			}
		}
		return false
	}
	switch {
	case u == "":
		return DeviceOther
	case has("bot", "spider", "crawl", "curl/", "wget/", "python-", "go-http-client", "headlesschrome"):
		return DeviceBot
	case has("smart-tv", "smarttv", "appletv", "apple tv", "crkey", "roku", "tizen", "web0s", "webos", "hbbtv", "aft", "bravia", "playstation", "xbox"):
		return DeviceTV
	case has("ipad", "tablet") || has("android") && !has("mobile"):
		return DeviceTablet
	case has("mobi", "iphone", "ipod", "android", "windows phone"):
		return DeviceMobile
	case has("windows", "macintosh", "mac os x", "x11", "linux", "cros"):
		return DeviceDesktop
	}
	return DeviceOther
}
