// CORS in Chromium: a page served from another origin (as
// openai-chat-frontend-vanillajs is, in front of
// openai-chat-backend-fastapi) streams /chat/stream and calls the gateway
// of an llmfork whose allowed_origins names it; a page from an origin not
// listed is blocked by the browser.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { launchChromium, startLlmfork, startMock } from './helpers.mjs';

let mock, srv, browser, allowed, other;

// A static "frontend" on its own loopback port: its own origin.
function frontend() {
  return new Promise((ok) => {
    const s = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><title>frontend</title>');
    });
    s.listen(0, '127.0.0.1', () => {
      s.origin = `http://127.0.0.1:${s.address().port}`;
      ok(s);
    });
  });
}

before(async () => {
  mock = await startMock(['--tokens', '6', '--delay-ms', '10']);
  allowed = await frontend();
  other = await frontend();
  srv = await startLlmfork({ mock, env: { ALLOWED_ORIGINS: `http://example.invalid, ${allowed.origin}` } });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  await mock?.stop();
  allowed?.close();
  other?.close();
});

// In the page: POST JSON (a preflighted request) and read the NDJSON
// stream line by line, as the sample frontends do.
async function streamFrom(origin) {
  const page = await browser.newPage();
  await page.goto(origin + '/');
  const out = await page.evaluate(async (api) => {
    try {
      const res = await fetch(api + '/chat/stream', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
      }
      const lines = buf.trim().split('\n').map((l) => JSON.parse(l));
      const gw = await fetch(api + '/v1/models', { headers: { Authorization: 'Bearer x' } });
      return { status: res.status, text: lines.map((l) => l.delta?.content ?? '').join(''),
        gateway: gw.status };
    } catch (e) {
      return { error: `${e.name}: ${e.message}` };
    }
  }, srv.url);
  await page.close();
  return out;
}

test('a page on an allowed origin streams /chat/stream and calls the gateway', async () => {
  const out = await streamFrom(allowed.origin);
  assert.equal(out.error, undefined, out.error);
  assert.equal(out.status, 200);
  assert.equal(out.text, await mock.answer(6));
  assert.equal(out.gateway, 200);
});

test('a page on another origin is blocked by the browser', async () => {
  const before = (await mock.stats()).requests;
  const out = await streamFrom(other.origin);
  assert.match(out.error ?? '', /^TypeError/, JSON.stringify(out));
  // The preflight failed, so the POST never reached llmfork's model.
  assert.equal((await mock.stats()).requests, before);
});
