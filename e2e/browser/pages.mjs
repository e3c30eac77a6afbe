// pages.mjs: a headless Debian chromium (/usr/bin/chromium, or $CHROMIUM;
// never a downloaded browser) with a fake camera and microphone, driven
// line by line from stdin. Each line is a URL: it opens in a tab of its
// own, which stays open (a publishing page goes on sending) until stdin
// ends. Once the page's window.result (a promise) settles, one line is
// printed on stdout:
//
//	RESULT <path> <JSON value>
//	ERROR <path> <message>
//
// where <path> is the URL's path. A result that takes longer than
// $PAGE_TIMEOUT_MS (default 60000) is an ERROR. The pages' console lines
// go to stderr. When stdin ends the browser closes and the script exits.
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const timeoutMs = Number(process.env.PAGE_TIMEOUT_MS || 60000);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--headless=new',
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    '--allow-loopback-in-peer-connection',
    '--autoplay-policy=no-user-gesture-required',
  ],
});
const context = await browser.newContext();

async function open(url) {
  const path = new URL(url).pathname;
  const tab = await context.newPage();
  tab.on('console', m => console.error(`console ${path}: ${m.text()}`));
  tab.on('pageerror', e => console.error(`pageerror ${path}: ${e}`));
  let timer;
  try {
    await tab.goto(url);
    const result = await Promise.race([
      tab.evaluate(() => window.result),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no result within ${timeoutMs} ms`)), timeoutMs); }),
    ]);
    console.log(`RESULT ${path} ${JSON.stringify(result)}`);
  } catch (e) {
    console.log(`ERROR ${path} ${String(e).split('\n')[0]}`);
  } finally {
    clearTimeout(timer);
  }
}

const pending = [];
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim()) pending.push(open(line.trim()));
}
await Promise.allSettled(pending);
await browser.close();
