// subtitles.mjs MASTER_URL: loads an HLS master playlist with hls.js in a
// headless Debian chromium (/usr/bin/chromium, or $CHROMIUM) from a page
// on 127.0.0.1, and prints the subtitle tracks hls.js lists, as one JSON
// line: {"subtitleTracks":N,"tracks":[{"name","lang"}]}. Exits 1 with a
// message on stderr when the manifest does not load within 30 s.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const master = process.argv[2];
if (!master) {
  console.error('usage: node subtitles.mjs MASTER_URL');
  process.exit(2);
}
const require = createRequire(import.meta.url);
const hlsJS = await readFile(require.resolve('hls.js/dist/hls.min.js'));
const page = `<!doctype html><meta charset="utf-8"><video id="v" muted></video>
<script src="/hls.min.js"></script>
<script>
window.result = new Promise((resolve, reject) => {
  const hls = new Hls();
  // hls.js lists the subtitle tracks of the playing variant's group once
  // it picked that variant: after SUBTITLE_TRACKS_UPDATED.
  hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => resolve({
    subtitleTracks: hls.subtitleTracks.length,
    tracks: hls.subtitleTracks.map(t => ({ name: t.name, lang: t.lang })),
  }));
  hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) reject(new Error(d.type + ': ' + d.details)); });
  hls.loadSource(${JSON.stringify(master)});
  hls.attachMedia(document.getElementById('v'));
});
</script>`;

const server = createServer((req, res) => {
  if (req.url === '/hls.min.js') {
    res.writeHead(200, { 'Content-Type': 'text/javascript' });
    res.end(hlsJS);
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end(page);
});
await new Promise(r => server.listen(0, '127.0.0.1', r));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--headless=new'],
});
let code = 0;
try {
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  const result = await Promise.race([
    tab.evaluate(() => window.result),
    new Promise((_, reject) => setTimeout(() => reject(new Error('no manifest within 30 s')), 30000)),
  ]);
  console.log(JSON.stringify(result));
} catch (e) {
  console.error(String(e));
  code = 1;
} finally {
  await browser.close();
  server.close();
}
process.exit(code);
