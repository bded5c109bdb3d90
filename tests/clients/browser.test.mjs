// The web chat page in Chromium (playwright-core driving Debian's
// /usr/bin/chromium), served by llmfork with llmfork-mock as the model.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, startLlmfork, startMock, waitFor } from './helpers.mjs';

const TOKENS = 12;
let mock, srv, browser;

before(async () => {
  mock = await startMock(['--tokens', String(TOKENS), '--delay-ms', '60']);
  // max_retries 0: a 429 from the model reaches the page at once.
  srv = await startLlmfork({ mock, args: ['--max-retries', '0'] });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  await mock?.stop();
});

// Closes page; an uncaught exception in the page's script fails the test.
async function closePage(page) {
  await page.close();
  assert.deepEqual(page.errors, [], 'no uncaught errors in the page');
}

async function openPage() {
  const page = await browser.newPage();
  page.outside = [];
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('request', (r) => {
    if (!r.url().startsWith(srv.url + '/')) page.outside.push(r.url());
  });
  await page.goto(srv.url + '/');
  return page;
}

const lastAnswer = (page) => page.locator('#messages .msg.assistant').last();

// Sends text from the box and waits until the answer stopped streaming.
async function send(page, text) {
  await page.getByLabel('Message').fill(text);
  await page.getByLabel('Message').press('Enter');
  await waitFor(async () => (await page.locator('.msg.streaming').count()) === 0 &&
    (await page.locator('#send').isVisible()), 10000, 'the answer to end');
  return lastAnswer(page);
}

test('the page loads from llmfork alone and is labelled', async () => {
  const page = await openPage();
  assert.equal(await page.title(), 'llmfork chat');
  assert.equal(await page.getByLabel('Message').count(), 1);
  assert.ok(await page.getByRole('button', { name: 'Send' }).isVisible());
  assert.equal(await page.getByRole('button', { name: 'Stop' }).isVisible(), false);
  assert.equal(await page.getByRole('log').getAttribute('aria-live'), 'polite');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'message');
  assert.deepEqual(page.outside, [], 'no request leaves the server');
  await closePage(page);
});

test('the answer grows in the DOM token by token', async () => {
  const page = await openPage();
  // Sample the answer's text from inside the page every few milliseconds.
  await page.evaluate(() => {
    window.samples = [];
    window.sampler = setInterval(() => {
      const el = document.querySelector('#messages .msg.assistant:last-child .content');
      const t = el ? el.textContent : '';
      if (t && t !== window.samples.at(-1)) window.samples.push(t);
    }, 5);
  });
  const answer = await send(page, 'Hello, who are you?');
  const samples = await page.evaluate(() => {
    clearInterval(window.sampler);
    return window.samples;
  });
  const want = await mock.answer(TOKENS);
  assert.equal(await answer.locator('.content').textContent(), want);
  assert.ok(samples.length >= 3, `only ${samples.length} distinct states: ${JSON.stringify(samples)}`);
  for (let i = 1; i < samples.length; i++)
    assert.ok(samples[i].startsWith(samples[i - 1]) && samples[i].length > samples[i - 1].length,
      'each state extends the one before');
  assert.equal(samples.at(-1), want);
  await closePage(page);
});

test('the second turn sends the conversation so far', async () => {
  const page = await openPage();
  const first = await mock.answer(3);
  await send(page, 'First question [mock tokens=3]');
  await send(page, 'Second question [mock tokens=2]');
  const msgs = (await mock.stats()).last_request.json.messages.filter((m) => m.role !== 'system');
  assert.deepEqual(msgs, [
    { role: 'user', content: 'First question [mock tokens=3]' },
    { role: 'assistant', content: first },
    { role: 'user', content: 'Second question [mock tokens=2]' },
  ]);
  assert.equal(await page.locator('#messages .msg').count(), 4);
  assert.equal(await lastAnswer(page).locator('.content').textContent(), await mock.answer(2));
  // "New chat" starts over: the next request carries only its own question.
  await page.getByRole('button', { name: 'New chat' }).click();
  assert.equal(await page.locator('#messages .msg').count(), 0);
  await send(page, 'Fresh start [mock tokens=1]');
  const fresh = (await mock.stats()).last_request.json.messages.filter((m) => m.role !== 'system');
  assert.deepEqual(fresh, [{ role: 'user', content: 'Fresh start [mock tokens=1]' }]);
  await closePage(page);
});

test('Stop aborts the stream and the upstream call is cancelled', async () => {
  const page = await openPage();
  const before = (await mock.stats()).cancelled;
  await page.getByLabel('Message').fill('Tell me a long story [mock tokens=2000 delay_ms=20]');
  await page.getByRole('button', { name: 'Send' }).click();
  await waitFor(async () => (await lastAnswer(page).locator('.content').textContent()).length > 10,
    5000, 'the first tokens');
  await page.getByRole('button', { name: 'Stop' }).click();
  await waitFor(async () => (await mock.stats()).cancelled === before + 1, 3000,
    'the mock to count a cancelled request');
  assert.equal((await mock.stats()).active, 0);
  assert.match(await page.locator('#status').textContent(), /Stopped/);
  assert.ok(await page.getByRole('button', { name: 'Send' }).isVisible());
  assert.equal(await page.locator('.msg.assistant.stopped').count(), 1);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'message');
  await closePage(page);
});

test('a 429 shows "busy, retry in N s"', async () => {
  const page = await openPage();
  const text = 'Are you there? [mock fault=429:ms=3000]';
  const answer = await send(page, text);
  const err = answer.getByRole('alert');
  assert.match(await err.textContent(), /busy, retry in 3 s/);
  // The question is given back to be sent again.
  assert.equal(await page.getByLabel('Message').inputValue(), text);
  await closePage(page);
});

test('5xx and a stream that breaks off are shown as errors', async () => {
  const page = await openPage();
  let answer = await send(page, 'Fail [mock fault=500]');
  assert.match(await answer.getByRole('alert').textContent(), /HTTP 5\d\d/);
  await page.getByLabel('Message').fill('');
  answer = await send(page, 'Break [mock fault=cut:after=4]');
  assert.match(await answer.getByRole('alert').textContent(), /broke off/);
  const partial = await answer.locator('.content').textContent();
  assert.ok(partial.length > 0 && (await mock.answer(TOKENS)).startsWith(partial));
  await closePage(page);
});

test('keyboard: Shift+Enter is a new line, Enter sends; fits a phone', async () => {
  const page = await openPage();
  await page.setViewportSize({ width: 360, height: 640 });
  const box = page.getByLabel('Message');
  await box.click();
  await page.keyboard.type('line one');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('line two [mock tokens=2]');
  assert.equal(await box.inputValue(), 'line one\nline two [mock tokens=2]');
  assert.equal(await page.locator('#messages .msg').count(), 0, 'nothing sent yet');
  await page.keyboard.press('Enter');
  await waitFor(async () => (await page.locator('.msg.streaming').count()) === 0 &&
    (await page.locator('#messages .msg').count()) === 2, 5000, 'the answer');
  assert.equal(await page.locator('.msg.user .content').textContent(),
    'line one\nline two [mock tokens=2]');
  assert.equal(await box.inputValue(), '');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'message');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= 360, `page is ${overflow} px wide at 360`);
  await closePage(page);
});

// No raw JSON, no browser jargon ("Failed to fetch", "network error").
async function assertPlainAlert(answer, re) {
  const text = await answer.getByRole('alert').textContent();
  assert.match(text, re);
  assert.doesNotMatch(text, /[{}]|Failed to fetch|network error/, text);
}

test('the model unreachable (502), then the server gone: clear messages, usable page', async () => {
  // The provider at a port nothing listens on.
  const down = await startLlmfork({
    env: { LLMFORK_PROVIDER: 'openai', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', OPENAI_API_KEY: 'x' },
    args: ['--max-retries', '0'],
  });
  const page = await browser.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  try {
    await page.goto(down.url + '/');
    let answer = await send(page, 'Hello?');
    await assertPlainAlert(answer, /HTTP 502.*could not be reached/);
    assert.equal(await page.getByLabel('Message').inputValue(), 'Hello?');
    await down.stop();
    await page.getByLabel('Message').fill('');
    answer = await send(page, 'Anyone?');
    await assertPlainAlert(answer, /^Cannot reach the server\. Check the connection, then send again\.$/);
    assert.equal(await page.getByLabel('Message').inputValue(), 'Anyone?');
    assert.ok(await page.getByRole('button', { name: 'Send' }).isVisible());
  } finally {
    await down.stop();
  }
  await closePage(page);
});

test('a connection lost mid-answer says so and keeps what came', async () => {
  const lost = await startLlmfork({ mock, args: ['--max-retries', '0'] });
  const page = await browser.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  try {
    await page.goto(lost.url + '/');
    await page.getByLabel('Message').fill('Tell me a long story [mock tokens=2000 delay_ms=20]');
    await page.getByLabel('Message').press('Enter');
    await waitFor(async () => (await lastAnswer(page).locator('.content').textContent()).length > 10,
      5000, 'the first tokens');
    lost.kill('SIGQUIT');       // quick stop: the stream ends without its last chunk
    await waitFor(async () => (await page.locator('.msg.streaming').count()) === 0, 10000,
      'the answer to end');
    const answer = lastAnswer(page);
    await assertPlainAlert(answer, /^The answer broke off: the connection to the server was lost\.$/);
    assert.ok((await answer.locator('.content').textContent()).length > 10, 'the partial answer stays');
    assert.ok(await page.getByRole('button', { name: 'Send' }).isVisible());
  } finally {
    await lost.stop();
  }
  await closePage(page);
});

test('an empty message sends nothing', async () => {
  const page = await openPage();
  const before = (await mock.stats()).requests;
  await page.getByLabel('Message').fill('   ');
  await page.getByLabel('Message').press('Enter');
  await page.getByRole('button', { name: 'Send' }).click();
  assert.equal(await page.locator('#messages .msg').count(), 0);
  assert.equal((await mock.stats()).requests, before);
  assert.ok(await page.getByRole('button', { name: 'Send' }).isVisible());
  await closePage(page);
});

test('a 200 that is not NDJSON (a proxy\'s page) is not shown as a parser error', async () => {
  const page = await openPage();
  await page.route('**/chat/stream', (r) => r.fulfill({
    status: 200, contentType: 'text/html', body: '<html><body>Sign in to the Wi-Fi</body></html>\n',
  }));
  const answer = await send(page, 'Hello');
  await assertPlainAlert(answer, /^The server sent something that is not a chat answer\.$/);
  assert.equal(await page.getByLabel('Message').inputValue(), 'Hello');
  await closePage(page);
});
