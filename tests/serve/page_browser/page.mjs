// Drives kinema serve's page in Debian's headless chromium: submit a prompt, watch the card's
// progress reach 100%, check the <video> loads with the expected duration and the credentials
// badge says valid, extend it from its button, and save a screenshot. Run by tests/serve/test_page_browser.cpp with
// KINEMA_PAGE_URL, KINEMA_EXPECT_SECONDS and KINEMA_OUT_DIR. Prints one JSON line.
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const fail = (what) => { console.error(`FAIL: ${what}`); process.exit(1); };
const browser = await puppeteer.launch({
  executablePath: process.env.KINEMA_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-proxy-server', '--autoplay-policy=no-user-gesture-required'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 700 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const started = Date.now();
  await page.goto(process.env.KINEMA_PAGE_URL, { waitUntil: 'networkidle0' });
  await page.type('#prompt', 'a red circle moves right');
  await page.select('#size', '1280x720');
  await page.$eval('#seconds', (e) => { e.value = '2'; });
  await page.type('#seed', '5');
  await page.click('#submit');
  // Progress as the page shows it, sampled until the card completes.
  const seen = [];
  const deadline = Date.now() + 60000;
  let state;
  while (Date.now() < deadline) {
    state = await page.evaluate(() => {
      const c = document.querySelector('.card');
      return c && { status: c.dataset.status, progress: c.querySelector('progress').value,
        duration: c.dataset.duration, badge: c.querySelector('.badge').className };
    });
    if (state) seen.push(state.progress);
    if (state && state.status === 'completed' && state.duration && state.badge.includes('valid')) break;
    if (state && state.status === 'failed') fail(`the job failed: ${JSON.stringify(state)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  if (!state || state.status !== 'completed') fail(`no completed card: ${JSON.stringify(state)}`);
  if (state.progress !== 100) fail(`progress ${state.progress}`);
  if (!state.duration) fail('the <video> never loaded its metadata');
  const expected = Number(process.env.KINEMA_EXPECT_SECONDS);
  if (Math.abs(Number(state.duration) - expected) > 0.15) fail(`duration ${state.duration}, expected ${expected}`);
  if (!state.badge.split(' ').includes('valid')) fail(`badge ${state.badge}`);
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);
  // Extend it by one second from the card's button (its two prompts answered).
  const answers = ['then it turns blue', '1'];
  page.on('dialog', (d) => d.accept(answers.shift()));
  await page.click('.card .extend');
  let extended;
  while (Date.now() < deadline) {
    extended = await page.evaluate(() => {
      const c = document.querySelectorAll('.card');
      return c.length === 2 && { status: c[0].dataset.status, duration: c[0].dataset.duration };
    });
    if (extended && extended.status === 'completed' && extended.duration) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const longer = expected + 12 / 12;  // 12 more frames at 12 fps
  if (!extended || Math.abs(Number(extended.duration) - longer) > 0.15) fail(`extension: ${JSON.stringify(extended)}`);
  const shot = path.join(process.env.KINEMA_OUT_DIR, 'page.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify({ ok: true, duration: Number(state.duration), extended: Number(extended.duration),
    progress_seen: [...new Set(seen)],
    screenshot: shot, ms: Date.now() - started }));
} finally {
  await browser.close();
}
