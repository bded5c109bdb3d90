// `curl -N` sees /chat/stream arrive line by line as the model writes,
// not all at once at the end (no buffering between the model and the wire).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startLlmfork } from './helpers.mjs';

const TOKENS = 10;
const DELAY_MS = 100;
let srv;

before(async () => {
  srv = await startLlmfork({
    args: ['--mock-tokens', String(TOKENS), '--mock-delay-ms', String(DELAY_MS)],
  });
});

after(async () => {
  await srv?.stop();
});

// Runs curl; resolves to [{t, line}] with each line's arrival time.
function curlLines(args) {
  return new Promise((ok, fail) => {
    const t0 = Date.now();
    const p = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = [];
    let buf = '';
    let err = '';
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        lines.push({ t: Date.now() - t0, line: buf.slice(0, nl) });
        buf = buf.slice(nl + 1);
      }
    });
    p.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 15000);
    p.on('error', fail);
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) fail(new Error(`curl exited ${code}: ${err}`));
      else ok(lines);
    });
  });
}

test('curl -N receives the NDJSON stream incrementally', async () => {
  const lines = await curlLines([
    '-sS', '-N', '--fail-with-body', '-X', 'POST', '-H', 'Content-Type: application/json',
    '--data', JSON.stringify({ messages: [{ role: 'user', content: 'Count for me' }] }),
    srv.url + '/chat/stream',
  ]);
  const objs = lines.map((l) => JSON.parse(l.line));
  assert.deepEqual(objs[0].delta, { role: 'assistant' });
  assert.ok('context' in objs[0]);
  const content = objs.slice(1).filter((o) => o.delta?.content);
  assert.equal(content.length, TOKENS, 'one line per token');
  assert.ok(!objs.some((o) => o.error), 'no error line');

  // The model spends (TOKENS - 1) x DELAY_MS between its first and last
  // token; a buffered reply would deliver every line at the same moment.
  const first = lines[0].t;
  const last = lines.at(-1).t;
  const spread = (TOKENS - 1) * DELAY_MS;
  assert.ok(last - first >= spread * 0.7, `first line at ${first} ms, last at ${last} ms`);
  const distinct = new Set(lines.map((l) => Math.round(l.t / 25))).size;
  assert.ok(distinct >= TOKENS / 2, `lines arrived at ${distinct} different moments`);
});
