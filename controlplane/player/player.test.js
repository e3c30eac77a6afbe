// Unit tests of the player's beacon batching: `node --test`.
const test = require("node:test");
const assert = require("node:assert");
const P = require("./livestreams-player.js");

test("playback id from edge and play URLs", () => {
  assert.strictEqual(P.playbackIdOf("http://edge:8081/hls/abc_123/index.m3u8?token=x"), "abc_123");
  assert.strictEqual(P.playbackIdOf("https://api/v1/play/pid9.m3u8"), "pid9");
  assert.strictEqual(P.playbackIdOf("https://api/other"), "");
});

test("events are batched, at most MAX_BATCH a request", () => {
  const sent = [];
  const b = new P.Beacons({ endpoint: "http://edge/beacon", playbackId: "pid", viewId: "v1",
    send: (url, body, final) => sent.push({ url, events: JSON.parse(body), final }) });
  b.push("view_start");
  b.push("first_frame", { ms: 850 });
  assert.strictEqual(sent.length, 0, "nothing is sent before a flush");
  assert.strictEqual(b.flush(false), 1);
  assert.deepStrictEqual(sent[0].events, [
    { view_id: "v1", playback_id: "pid", type: "view_start" },
    { view_id: "v1", playback_id: "pid", type: "first_frame", ms: 850 },
  ]);
  for (let i = 0; i < P.MAX_BATCH + 7; i++) b.push("heartbeat", { ms: 10 });
  assert.strictEqual(sent.length, 2, "a full queue is sent at once");
  assert.strictEqual(sent[1].events.length, P.MAX_BATCH);
  b.flush(true);
  assert.strictEqual(sent[2].events.length, 7);
  assert.strictEqual(sent[2].final, true, "the page-hide flush uses sendBeacon");
  assert.strictEqual(b.flush(false), 0, "an empty queue sends nothing");
  assert.ok(sent.every((s) => s.url === "http://edge/beacon" && Buffer.byteLength(JSON.stringify(s.events)) < 16384));
});

test("nothing is sent before the edge is known", () => {
  const sent = [];
  const b = new P.Beacons({ playbackId: "pid", send: () => sent.push(1) });
  b.push("view_start");
  assert.strictEqual(b.flush(false), 0);
  b.endpoint = "http://edge/beacon";
  assert.strictEqual(b.flush(false), 1);
});

test("watch time accumulates only while playing", () => {
  let t = 1000;
  const w = new P.Watch(() => t);
  w.start(); t += 4000; w.stop(); t += 9000; // paused 9 s
  w.start(); t += 1500;
  assert.strictEqual(w.take(), 5500);
  t += 500;
  assert.strictEqual(w.take(), 500);
});
