/* Livestreams player: hls.js (or native HLS) plus quality-of-service beacons.
 *
 *   <script src="https://API/player/livestreams-player.js"></script>
 *   <livestreams-player src="https://API/v1/play/PLAYBACK_ID.m3u8"></livestreams-player>
 * or
 *   LivestreamsPlayer.attach(videoElement, "https://API/v1/play/PLAYBACK_ID.m3u8")
 *
 * Beacons (see docs/analytics.md) go to the edge that serves the media,
 * POST /beacon, batched every 10 s and sent with navigator.sendBeacon when
 * the page is hidden. */
(function (global) {
  "use strict";

  // hls.js comes from beside this script (the control plane serves the
  // copy it embeds) unless the operator configured another URL.
  var HLS_JS_URL = "__LIVESTREAMS_HLS_JS_URL__";
  if (!HLS_JS_URL && typeof document !== "undefined" && document.currentScript && document.currentScript.src) {
    HLS_JS_URL = new URL("hls.min.js", document.currentScript.src).href;
  }
  var FLUSH_MS = 10000;
  var MAX_BATCH = 50;

  function randomId() {
    var b = new Uint8Array(12);
    (global.crypto || require("crypto").webcrypto).getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }

  // playbackIdOf finds the playback id in an edge URL (/hls/PID/...) or a
  // play URL (/v1/play/PID.m3u8).
  function playbackIdOf(url) {
    var p = new URL(url, "http://x").pathname;
    var m = /\/hls\/([A-Za-z0-9_-]+)\//.exec(p) || /\/play\/([A-Za-z0-9_-]+)\.m3u8$/.exec(p);
    return m ? m[1] : "";
  }

  // Beacons queues events and sends them in batches of at most MAX_BATCH.
  // send(endpoint, body, final) delivers one batch; final is true when the
  // page is going away (sendBeacon).
  function Beacons(opts) {
    this.endpoint = opts.endpoint || "";
    this.viewId = opts.viewId || randomId();
    this.playbackId = opts.playbackId || "";
    this.send = opts.send || defaultSend;
    this.queue = [];
  }
  Beacons.prototype.push = function (type, fields) {
    var ev = { view_id: this.viewId, playback_id: this.playbackId, type: type };
    for (var k in fields || {}) ev[k] = fields[k];
    this.queue.push(ev);
    if (this.queue.length >= MAX_BATCH) this.flush(false);
  };
  Beacons.prototype.flush = function (final) {
    if (!this.endpoint || !this.playbackId) return 0;
    var sent = 0;
    while (this.queue.length > 0) {
      var batch = this.queue.splice(0, MAX_BATCH);
      for (var i = 0; i < batch.length; i++) batch[i].playback_id = batch[i].playback_id || this.playbackId;
      this.send(this.endpoint, JSON.stringify(batch), !!final);
      sent++;
    }
    return sent;
  };

  function defaultSend(endpoint, body, final) {
    // text/plain is a simple request: no CORS preflight.
    if (final && global.navigator && global.navigator.sendBeacon) {
      if (global.navigator.sendBeacon(endpoint, new Blob([body], { type: "text/plain" }))) return;
    }
    if (global.fetch) {
      global.fetch(endpoint, { method: "POST", body: body, keepalive: true, headers: { "Content-Type": "text/plain" } })
        .catch(function () {});
    }
  }

  // Watch measures time spent playing, for heartbeats.
  function Watch(now) { this.now = now; this.since = 0; this.acc = 0; }
  Watch.prototype.start = function () { if (!this.since) this.since = this.now(); };
  Watch.prototype.stop = function () { if (this.since) { this.acc += this.now() - this.since; this.since = 0; } };
  Watch.prototype.take = function () {
    if (this.since) { var t = this.now(); this.acc += t - this.since; this.since = t; }
    var ms = this.acc; this.acc = 0; return Math.round(ms);
  };

  function loadHls(cb) {
    if (global.Hls) return cb(global.Hls);
    var s = document.createElement("script");
    s.src = HLS_JS_URL;
    s.onload = function () { cb(global.Hls); };
    s.onerror = function () { cb(null); };
    document.head.appendChild(s);
  }

  // attach plays url in video and reports on it; it returns a handle with
  // destroy().
  function attach(video, url, opts) {
    opts = opts || {};
    var now = opts.now || function () { return Date.now(); };
    var b = new Beacons({ send: opts.send, playbackId: playbackIdOf(url) });
    var watch = new Watch(now);
    var started = now(), firstFrame = false, stallAt = 0, hls = null, level = -1, done = false;
    function setMedia(finalURL) {
      try {
        b.endpoint = new URL(finalURL).origin + "/beacon";
        b.playbackId = playbackIdOf(finalURL) || b.playbackId;
      } catch (e) {}
    }
    setMedia(new URL(url, global.location ? global.location.href : undefined).href);
    b.push("view_start");

    function on(type, fn) { video.addEventListener(type, fn); }
    on("playing", function () {
      if (!firstFrame) { firstFrame = true; b.push("first_frame", { ms: Math.round(now() - started) }); }
      if (stallAt) { b.push("rebuffer", { ms: Math.round(now() - stallAt) }); stallAt = 0; }
      watch.start();
    });
    on("waiting", function () { if (firstFrame && !stallAt) { stallAt = now(); } watch.stop(); });
    on("pause", function () { watch.stop(); });
    on("ended", function () { watch.stop(); });
    on("error", function () { if (!hls) b.push("error", { fatal: true, code: "media_" + (video.error ? video.error.code : 0) }); });

    var timer = setInterval(function () {
      if (watch.since) b.push("heartbeat", { ms: watch.take() });
      b.flush(false);
    }, FLUSH_MS);
    function end(final) {
      if (done) return;
      done = true;
      clearInterval(timer);
      b.push("view_end", { ms: watch.take() });
      b.flush(final);
    }
    function hidden() {
      if (document.visibilityState === "hidden") {
        b.push("heartbeat", { ms: watch.take() });
        b.flush(true);
      }
    }
    if (global.document) {
      document.addEventListener("visibilitychange", hidden);
      global.addEventListener("pagehide", function () { end(true); });
    }

    var native = video.canPlayType && video.canPlayType("application/vnd.apple.mpegurl");
    if (native && !opts.forceHlsJs) {
      // Learn the edge behind the play redirect, then play its URL.
      global.fetch(url).then(function (r) { setMedia(r.url); video.src = r.url; })
        .catch(function () { video.src = url; });
    } else {
      loadHls(function (Hls) {
        if (!Hls || !Hls.isSupported()) { b.push("error", { fatal: true, code: "no_hls" }); return; }
        // A live viewer who fell behind (a stall, a busy tab) catches up
        // to the stream's hold-back at up to 1.1x instead of staying late.
        var cfg = { maxLiveSyncPlaybackRate: 1.1 };
        var own = opts.hlsConfig || {};
        for (var k in own) { if (Object.prototype.hasOwnProperty.call(own, k)) cfg[k] = own[k]; }
        hls = new Hls(cfg);
        hls.on(Hls.Events.MANIFEST_LOADED, function (_, data) {
          var nd = data.networkDetails || {};
          setMedia(nd.responseURL || nd.url || data.url);
        });
        hls.on(Hls.Events.LEVEL_SWITCHED, function (_, data) {
          if (level >= 0 && data.level !== level) {
            var l = hls.levels[data.level];
            b.push("bitrate_switch", { bitrate: l ? l.bitrate : 0 });
          }
          level = data.level;
        });
        hls.on(Hls.Events.ERROR, function (_, data) {
          b.push("error", { fatal: !!data.fatal, code: String(data.details || data.type || "error").slice(0, 64) });
        });
        hls.loadSource(url);
        hls.attachMedia(video);
      });
    }
    return {
      beacons: b,
      destroy: function () {
        end(false);
        if (global.document) document.removeEventListener("visibilitychange", hidden);
        if (hls) hls.destroy();
      },
    };
  }

  var api = { attach: attach, Beacons: Beacons, Watch: Watch, playbackIdOf: playbackIdOf, MAX_BATCH: MAX_BATCH };
  global.LivestreamsPlayer = api;

  if (global.customElements && global.HTMLElement) {
    class El extends global.HTMLElement {
      connectedCallback() {
        if (this.player) return;
        var v = document.createElement("video");
        v.controls = true;
        v.setAttribute("playsinline", "");
        v.style.width = "100%";
        if (this.hasAttribute("autoplay")) { v.autoplay = true; v.muted = true; }
        this.appendChild(v);
        this.player = attach(v, this.getAttribute("src"));
      }
      disconnectedCallback() { if (this.player) { this.player.destroy(); this.player = null; } }
    }
    if (!global.customElements.get("livestreams-player")) global.customElements.define("livestreams-player", El);
  }
  if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof window !== "undefined" ? window : globalThis);
