// dashboard.mjs: drives the creators' dashboard in a headless Debian
// chromium (never a downloaded browser) with a fake camera and microphone,
// as a creator would: sign up, create a stream, go live from the browser,
// watch the preview, restream, stop, upload, clip, keys, webhooks, and a
// second org that must see nothing of the first. Each step prints
//
//	STEP <name> <ms>
//
// and the script ends with one line, RESULT <JSON> or ERROR <step>: <message>.
// Screenshots (desktop 1280x800 and phone 390x844) go to $OUT, and axe-core
// checks each main screen for serious or critical violations.
//
// Environment: BASE (the dashboard URL), OUT (a directory), MP4 (a small
// file to upload), WEBHOOK_URL (a receiver answering 200), RESTREAM_URL and
// RESTREAM_KEY (an RTMP server and key the restream target sends to),
// STEP_TIMEOUT_MS (default 60000), CHROMIUM.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');
const env = (k, d) => process.env[k] || d;
const BASE = env('BASE').replace(/\/$/, '');
const OUT = env('OUT', '/tmp/dashboard-shots');
const T = Number(env('STEP_TIMEOUT_MS', 60000));
mkdirSync(OUT, { recursive: true });

const result = { steps: {}, axe: {}, screenshots: [] };
let current = '';
async function step(name, f) {
  current = name;
  const t0 = Date.now();
  const r = await f();
  result.steps[name] = Date.now() - t0;
  console.log(`STEP ${name} ${Date.now() - t0}`);
  return r;
}

// until polls f (async, truthy = done) until the step deadline.
async function until(what, f, ms = T) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what} not within ${ms} ms${last ? ': ' + String(last).split('\n')[0] : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// shoot writes the page at desktop and phone sizes, and runs axe on it.
async function shoot(page, name) {
  await page.waitForLoadState('networkidle', { timeout: 5000 }).catch(() => {});
  for (const [size, vp] of [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
    await page.setViewportSize(vp);
    await page.waitForTimeout(150); // layout and charts settle after the resize (not a synchronization)
    const file = join(OUT, `${name}-${size}.png`);
    await page.screenshot({ path: file, fullPage: false });
    result.screenshots.push(file);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.addScriptTag({ path: axePath });
  const r = await page.evaluate(async () => {
    const res = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return res.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = r.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  result.axe[name] = { violations: r.length, serious: bad };
}

// frame plays the video under sel past 2 s and samples a frame's luma.
async function frame(page, sel) {
  return page.evaluate(async ([sel, ms]) => {
    const end = Date.now() + ms;
    let v;
    while (!(v = document.querySelector(sel)) || v.currentTime <= 2 || v.videoWidth === 0) {
      if (Date.now() > end) {
        const b = v ? Array.from({ length: v.buffered.length }, (_, i) => `${v.buffered.start(i).toFixed(1)}-${v.buffered.end(i).toFixed(1)}`) : [];
        throw new Error(`${sel} stuck at ${v ? `${v.currentTime} (readyState ${v.readyState}, paused ${v.paused}, buffered [${b}], error ${v.error && v.error.code}, src ${v.currentSrc.slice(0, 40)})` : 'no video'}`);
      }
      if (v && v.paused) v.play().catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
    const c = document.createElement('canvas');
    c.width = v.videoWidth; c.height = v.videoHeight;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0);
    const px = g.getImageData(0, 0, c.width, c.height).data;
    let sum = 0, sq = 0, n = 0;
    for (let i = 0; i < px.length; i += 16) {
      const y = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
      sum += y; sq += y * y; n++;
    }
    const mean = sum / n;
    return { currentTime: v.currentTime, width: v.videoWidth, height: v.videoHeight, lumaMean: mean, lumaVariance: sq / n - mean * mean };
  }, [sel, T]);
}

const browser = await chromium.launch({
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  args: ['--no-sandbox', '--headless=new', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required'],
});

const pages = [];
async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, permissions: ['camera', 'microphone', 'clipboard-read', 'clipboard-write'] });
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  page.on('pageerror', (e) => console.error(`pageerror: ${e}`));
  page.on('console', (m) => { if (m.type() === 'error') console.error(`console: ${m.text()}`); });
  page.on('dialog', (d) => d.accept());
  page.on('response', (r) => { if (r.status() >= 400) console.error(`http ${r.status()} ${r.request().method()} ${r.url()}`); });
  pages.push(page);
  return page;
}

async function signUp(page, email, org) {
  await page.goto(BASE + '/signup');
  await page.fill('#signup input[name=name]', 'Creator ' + org);
  await page.fill('#signup input[name=email]', email);
  await page.fill('#signup input[name=password]', 'correct horse battery');
  await page.fill('#signup input[name=org_name]', org);
  await page.click('#signup button[type=submit]');
  await page.waitForSelector('h1#streams-h');
}

try {
  const page = await newPage();
  const stamp = Date.now().toString(36);

  await step('signup', async () => {
    await page.goto(BASE + '/signup');
    await page.waitForSelector('#signup');
    await shoot(page, 'signup');
    await signUp(page, `alice-${stamp}@example.com`, 'Alice TV');
    await shoot(page, 'streams-empty');
  });

  const streamID = await step('create stream', async () => {
    await page.click('#new-stream');
    await page.fill('#create-stream input[name=name]', 'Morning show');
    await page.selectOption('#create-stream select[name=latency_mode]', env('LATENCY', 'standard'));
    if (env('CAPTIONS', '1') === '1') await page.check('#create-stream input[name=auto_captions]');
    await page.click('#create-stream button[type=submit]');
    await page.waitForSelector('h1#stream-h');
    const play = await page.textContent('#preview .field code');
    result.playbackID = play.slice(play.lastIndexOf('/') + 1).replace('.m3u8', '');
    return page.url().split('/').pop();
  });
  result.streamID = streamID;

  await step('ingest settings', async () => {
    await page.waitForSelector('#ingest .field');
    await page.click('#ingest button:has-text("Reveal")');
    await until('the stream key revealed', async () => !(await page.textContent('#stream-key')).includes('•'));
    result.ingestFields = await page.$$eval('#ingest .field-label', (els) => els.map((e) => e.textContent));
    await page.click('#ingest button:has-text("Hide")');
  });

  await step('go live', async () => {
    await page.selectOption('#go-live select[name=resolution]', '720');
    await page.click('#go-live-btn');
    await page.waitForSelector('#live-indicator');
    await until('the stream shown live', async () => (await page.getAttribute('.page-head .badge', 'data-status')) === 'active');
  });

  result.preview = await step('preview plays', async () => {
    try {
      await page.waitForSelector('#live-player video');
      return await frame(page, '#live-player video');
    } catch (e) {
      // Say what the stream page says of the session (an edge failure).
      const tl = await page.$$eval('#timeline li', (els) => els.map((x) => x.textContent).join('; ')).catch(() => '');
      throw new Error(`${String(e).split('\n')[0]}; activity: ${tl}`);
    }
  });

  await step('timeline', async () => {
    result.timeline = await until('the activity timeline to fill', async () => {
      const types = await page.$$eval('#timeline .timeline li', (els) => els.map((e) => e.dataset.type));
      return types.length >= 2 ? types : null;
    });
    await shoot(page, 'stream-live');
  });

  // Restream: add a target at the given RTMP server, see it run, turn it
  // off and see it stop; a server without restreaming says so.
  await step('restream', async () => {
    await page.waitForSelector('#restream .empty, #restream .targets, #restream-unavailable');
    if (await page.$('#restream-unavailable')) { result.restream = 'unavailable'; return; }
    await page.click('#restream button:has-text("Add target")');
    await page.fill('#add-target input[name=target-name]', 'Mirror');
    await page.selectOption('#add-target select[name=preset]', 'custom');
    await page.fill('#add-target input[name=target-url]', env('RESTREAM_URL', 'rtmp://127.0.0.1:1/live'));
    await page.fill('#add-target input[name=target-key]', env('RESTREAM_KEY', 'key'));
    await page.click('#add-target button[type=submit]');
    const sel = '#restream .targets li';
    await page.waitForSelector(sel);
    const seen = [];
    const on = await until('the target live', async () => {
      const s = await page.getAttribute(sel, 'data-status');
      if (s && seen[seen.length - 1] !== s) seen.push(s);
      return s === 'starting' || s === 'live' || s === 'reconnecting' || s === 'failed' ? s : null;
    });
    // The edge relays the browser's camera (its Opus encoded to AAC for
    // FLV) to the target, which turns it live.
    await until('the target live', async () => {
      const s = await page.getAttribute(sel, 'data-status');
      if (s && seen[seen.length - 1] !== s) seen.push(s);
      return s === 'live';
    }, 30000).catch((e) => { throw new Error(`${e.message} (statuses seen: ${seen.join(' → ')})`); });
    await page.click(`${sel} input[role=switch]`);
    const off = await until('the target to stop', async () => {
      const s = await page.getAttribute(sel, 'data-status');
      const checked = await page.isChecked(`${sel} input[role=switch]`);
      return !checked && (s === 'stopped' || s === 'idle') ? s : null;
    });
    result.restream = { on, off, seen };
  });

  await step('stop', async () => {
    await page.click('#stop-live');
    await until('the stream idle', async () => (await page.getAttribute('.page-head .badge', 'data-status')) === 'idle');
  });

  // Upload while the recording is prepared.
  // Link a YouTube account (the test's fake provider on loopback approves
  // at once) from the stream's restream section, and add a target from
  // it: the provider names the ingest and key. The stream is off the air
  // by now, so the target (a real YouTube address) is never dialled.
  if (env('OAUTH', '')) {
    result.linked = await step('link account', async () => {
      const consent = page.context().waitForEvent('page');
      await page.click('#restream button:has-text("Link YouTube")');
      const tab = await consent;
      await tab.waitForLoadState('load').catch(() => {});
      const callback = tab.url();
      await tab.close();
      const acct = '#restream .linked .targets li';
      await page.waitForSelector(acct, { timeout: T });
      const name = (await page.textContent(acct)).trim();
      const before = (await page.$$('#restream > .targets li, #restream .targets li[data-status]')).length;
      await page.click(`${acct} button:has-text("Restream here")`);
      await until('the target from the account', async () =>
        (await page.$$('#restream .targets li[data-status]')).length > before);
      const targets = await page.$$eval('#restream .targets li[data-status]', (l) => l.map((x) => x.textContent));
      return { callback, account: name, targets };
    });
  }

  const uploadID = await step('upload', async () => {
    await page.click('nav a[href="/assets"]');
    await page.waitForSelector('#upload');
    await page.setInputFiles('#upload input[type=file]', env('MP4'));
    await page.click('#upload-btn');
    await page.waitForSelector('#upload [role=progressbar][aria-valuenow="100"]');
    await page.waitForSelector('#upload-done');
    const href = await page.getAttribute('#upload-done a', 'href');
    return href.split('/').pop();
  });
  result.uploadID = uploadID;

  await step('upload ready', async () => {
    await until('the upload ready', async () => (await page.getAttribute(`tr[data-asset="${uploadID}"]`, 'data-status')) === 'ready', 3 * T);
    await shoot(page, 'assets');
  });

  result.clip = await step('clip', async () => {
    await page.click(`tr[data-asset="${uploadID}"] a`);
    await page.waitForSelector('#asset-player video');
    await frame(page, '#asset-player video');
    await page.evaluate(() => { const v = document.querySelector('#asset-player video'); v.pause(); v.currentTime = 0.5; });
    await page.click('#mark-in');
    await page.evaluate(() => { document.querySelector('#asset-player video').currentTime = 2.5; });
    await until('the player at 2.5 s', () => page.evaluate(() => document.querySelector('#asset-player video').currentTime >= 2.4));
    await page.click('#mark-out');
    await page.click('#make-clip');
    await until('the clip page', async () => !page.url().endsWith(uploadID));
    const clipID = page.url().split('/').pop();
    await until('the clip ready', async () => (await page.getAttribute('.page-head .badge', 'data-status')) === 'ready', 2 * T);
    await page.click('#delete-asset');
    await page.waitForSelector('h1#assets-h');
    await until('the clip gone from the list', async () => !(await page.$(`tr[data-asset="${clipID}"]`)));
    return clipID;
  });

  await step('api key', async () => {
    await page.click('nav a[href="/api-keys"]');
    await page.fill('#create-api-key input[name=name]', 'backend');
    await page.click('#create-api-key button[type=submit]');
    await page.waitForSelector('#new-api-key code');
    result.apiKeyPrefix = (await page.textContent('#new-api-key code')).slice(0, 4);
    await shoot(page, 'api-keys');
  });

  await step('signing key', async () => {
    await page.click('nav a[href="/signing-keys"]');
    await page.click('button:has-text("Create signing key")');
    await page.waitForSelector('#private-pem');
    await page.fill('input[required]', result.playbackID);
    await page.click('button:has-text("Mint with the API")');
    await until('a minted token', async () => (await page.$$eval('.field-value code', (els) => els.some((e) => e.textContent.split('.').length === 3))));
    result.snippet = (await page.textContent('pre.snippet')).includes('ES256');
    await shoot(page, 'signing-keys');
  });

  await step('members', async () => {
    await page.click('nav a[href="/members"]');
    await page.waitForSelector('table#members');
    await page.fill('input[type=email]', `carol-${stamp}@example.com`);
    await page.click('button:has-text("Invite")');
    await page.waitForSelector(`li:has-text("carol-${stamp}@example.com")`);
    await shoot(page, 'members');
  });

  await step('webhook', async () => {
    await page.click('nav a[href="/webhooks"]');
    await page.waitForSelector('#create-webhook, .empty');
    if (!(await page.$('#create-webhook'))) { result.webhook = 'unavailable'; return; }
    await page.fill('#create-webhook input[name=url]', env('WEBHOOK_URL'));
    await page.click('#create-webhook button[type=submit]');
    await page.waitForSelector('.webhooks li');
    await page.click('.webhooks li button:has-text("Send test event")');
    result.webhook = await until('a delivery in the log', async () => {
      await page.click('.deliveries button:has-text("Refresh")').catch(() => {});
      const codes = await page.$$eval('.delivery-log .response-code', (els) => els.map((e) => e.textContent));
      return codes.find((c) => /^2\d\d/.test(c)) ?? null;
    });
    await page.click('.delivery-log button:has-text("Redeliver")');
    await until('the redelivery in the log', async () => (await page.$$('.delivery-log tbody tr')).length >= 2);
    await shoot(page, 'webhooks');
  });

  await step('recording ready', async () => {
    await page.goto(BASE + '/streams/' + streamID);
    await page.waitForSelector('#recordings li[data-asset]', { timeout: 2 * T });
    const id = await page.getAttribute('#recordings li[data-asset]', 'data-asset');
    result.recordingID = id;
    await page.goto(BASE + '/assets/' + id);
    await until('the recording ready', async () => (await page.getAttribute('.page-head .badge', 'data-status')) === 'ready', 3 * T);
    if (env('CAPTIONS', '1') === '1') {
      // The captions job runs after the recording is ready; the player
      // lists the track once it succeeded.
      result.captionStates = await until('the captions', async () => {
        const s = await page.$$eval('#captions li[data-lang]', (els) => els.map((e) => e.dataset.status));
        return s.length && s.every((x) => x === 'succeeded' || x === 'failed') ? s : null;
      }, 3 * T);
    }
    await page.waitForSelector('#asset-player video');
    result.recordingPlay = await frame(page, '#asset-player video');
    result.captions = await page.$$eval('#asset-player track', (els) => els.map((e) => e.srclang));
    result.textTracks = await page.$eval('#asset-player video', (v) => Array.from(v.textTracks).map((t) => t.language));
  });

  await step('storyboard scrub', async () => {
    const bar = await page.waitForSelector('#asset-player .scrub-bar');
    const box = await bar.boundingBox();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    await page.waitForSelector('#asset-player .scrub-thumb');
    result.storyboard = await page.$eval('#asset-player .scrub-thumb', (e) => e.style.backgroundImage);
    await page.mouse.click(box.x + box.width * 0.6, box.y + box.height / 2);
    await shoot(page, 'asset');
  });

  await step('analytics', async () => {
    await page.click('nav a[href="/analytics"]');
    await page.waitForSelector('.analytics .kpis');
    await shoot(page, 'analytics');
    await page.goto(BASE + '/streams');
    await page.waitForSelector('table#streams');
    await shoot(page, 'streams');
    await page.selectOption('#theme', 'dark');
    await shoot(page, 'streams-dark');
    await page.selectOption('#theme', 'auto');
  });

  await step('second org', async () => {
    const other = await newPage();
    await signUp(other, `bob-${stamp}@example.com`, 'Bob Live');
    await other.waitForSelector('.empty, table#streams');
    result.otherStreams = await other.$$eval('table#streams tbody tr', (els) => els.map((e) => e.textContent));
    await other.goto(BASE + '/streams/' + streamID);
    await other.waitForSelector('[role=alert]');
    result.otherStreamPage = await other.textContent('[role=alert]');
    await other.goto(BASE + '/assets');
    await other.waitForSelector('.empty, table#assets');
    result.otherAssets = await other.$$eval('table#assets tbody tr', (els) => els.length);
    await other.context().close();
  });

  console.log('RESULT ' + JSON.stringify(result));
} catch (e) {
  for (const [i, p] of pages.entries()) await p.screenshot({ path: join(OUT, `error-${i}.png`) }).catch(() => {});
  console.log(`ERROR ${current}: ${String(e).split('\n')[0]}`);
  console.error(JSON.stringify(result));
} finally {
  await browser.close();
}
