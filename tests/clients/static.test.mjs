// Static files (static_dir): types, caching, HEAD, and no way out of the
// directory. Paths are sent raw over a socket, as an attacker would, since
// fetch() would normalise "..".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLlmfork, waitFor } from './helpers.mjs';

const SECRET = 'top-secret-outside-static-dir';
const BIG = 'big\n[ERROR] forged\x1b[2J';
const top = mkdtempSync(join(tmpdir(), 'llmfork-static-'));
const www = join(top, 'www');
let srv;

before(async () => {
  mkdirSync(join(www, 'sub'), { recursive: true });
  mkdirSync(join(top, 'outdir'));
  writeFileSync(join(www, 'index.html'), '<!doctype html><title>t</title>index page');
  writeFileSync(join(www, 'a.css'), 'body { color: red }');
  writeFileSync(join(www, 'sub', 'x.js'), 'console.log(1)');
  writeFileSync(join(www, 'sub', 'index.html'), 'sub index');
  writeFileSync(join(www, '.hidden'), SECRET);
  writeFileSync(join(top, 'outside.txt'), SECRET);
  writeFileSync(join(top, 'outdir', 'secret.txt'), SECRET);
  symlinkSync(join(top, 'outside.txt'), join(www, 'out.txt'));
  symlinkSync('../outside.txt', join(www, 'sub', 'rel.txt'));
  symlinkSync(join(top, 'outdir'), join(www, 'outdir'));
  symlinkSync('a.css', join(www, 'in.css'));
  // larger than the 8 MiB static files may be; its name forges a log line
  writeFileSync(join(www, BIG), Buffer.alloc((8 << 20) + 1, 0x61));
  srv = await startLlmfork({ args: ['--static-dir', www] });
});

after(async () => {
  await srv?.stop();
  rmSync(top, { recursive: true, force: true });
});

// One raw HTTP/1.1 request; resolves to {status, headers, body}.
function raw(path, { method = 'GET', headers = {} } = {}) {
  return new Promise((ok, fail) => {
    const s = connect(srv.port, '127.0.0.1');
    const chunks = [];
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('error', fail);
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [line, ...fields] = head.split('\r\n');
      const h = {};
      for (const f of fields) {
        const i = f.indexOf(':');
        h[f.slice(0, i).toLowerCase()] = f.slice(i + 1).trim();
      }
      ok({ status: Number(line.split(' ')[1]), headers: h, body: rest.join('\r\n\r\n') });
    });
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    s.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`);
  });
}

test('GET / is index.html, revalidated on every load', async () => {
  const r = await raw('/');
  assert.equal(r.status, 200);
  assert.equal(r.body, '<!doctype html><title>t</title>index page');
  assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(r.headers['cache-control'], 'no-cache');
  assert.match(r.headers.etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
  assert.ok(!Number.isNaN(Date.parse(r.headers['last-modified'])));
  assert.equal((await raw('/sub/')).body, 'sub index');
});

test('content types by extension, max-age for non-HTML', async () => {
  const css = await raw('/a.css');
  assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
  assert.match(css.headers['cache-control'], /max-age=\d+/);
  assert.equal(css.headers['x-content-type-options'], 'nosniff');
  assert.equal((await raw('/sub/x.js')).headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal((await raw('/in.css')).body, 'body { color: red }', 'a symlink inside is fine');
});

test('HEAD has the headers and no body', async () => {
  const r = await raw('/a.css', { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], String('body { color: red }'.length));
  assert.equal(r.body, '');
});

test('304 on If-None-Match and If-Modified-Since; 200 once the file changed', async () => {
  const first = await raw('/a.css');
  const etag = first.headers.etag;
  const lm = first.headers['last-modified'];
  let r = await raw('/a.css', { headers: { 'If-None-Match': etag } });
  assert.equal(r.status, 304);
  assert.equal(r.body, '');
  assert.equal(r.headers.etag, etag);
  r = await raw('/a.css', { headers: { 'If-None-Match': `"nope", W/${etag}` } });
  assert.equal(r.status, 304);
  r = await raw('/a.css', { headers: { 'If-Modified-Since': lm } });
  assert.equal(r.status, 304);
  r = await raw('/a.css', { headers: { 'If-None-Match': '"other"', 'If-Modified-Since': lm } });
  assert.equal(r.status, 200, 'If-None-Match decides when both are sent');

  writeFileSync(join(www, 'a.css'), 'body { color: blue }');
  const later = new Date(Date.now() + 5000);
  utimesSync(join(www, 'a.css'), later, later);
  r = await raw('/a.css', { headers: { 'If-None-Match': etag } });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'body { color: blue }');
  assert.notEqual(r.headers.etag, etag);
  r = await raw('/a.css', { headers: { 'If-Modified-Since': lm } });
  assert.equal(r.status, 200);
});

test('no way out of static_dir: every attempt is a JSON 404', async () => {
  const attempts = [
    '/../outside.txt', '/sub/../../outside.txt', '/%2e%2e/outside.txt', '/%2E%2E/outside.txt',
    '/sub/%2e%2e/%2e%2e/outside.txt', '/.%2e/outside.txt', '/sub%2f..%2f..%2foutside.txt',
    '/sub/..%2F..%2Foutside.txt', '/..%5coutside.txt', '/index.html%00.css',
    '/out.txt', '/sub/rel.txt', '/outdir/secret.txt', '/.hidden', '/%2ehidden',
    '/no-such-file', '/sub', '//../outside.txt',
  ];
  for (const path of attempts) {
    const r = await raw(path);
    assert.equal(r.status, 404, path);
    assert.deepEqual(JSON.parse(r.body), { error: 'not found' }, path);
    assert.ok(!r.body.includes(SECRET), path);
  }
});

test('other methods on a static path get 405 with Allow', async () => {
  const r = await raw('/a.css', { method: 'POST', headers: { 'Content-Length': '0' } });
  assert.equal(r.status, 405);
  assert.match(r.headers.allow, /GET/);
  assert.match(r.headers.allow, /HEAD/);
});

test('a file too large is a JSON 500, its name escaped in the log', async () => {
  const r = await raw('/big%0A%5BERROR%5D%20forged%1B%5B2J');
  assert.equal(r.status, 500);
  assert.deepEqual(JSON.parse(r.body), { error: 'file too large' });
  const line = await waitFor(() => srv.log().split('\n').find((l) => l.includes('not served')),
    5000, 'the log line');
  assert.ok(line.includes('big\\x0A[ERROR] forged\\x1B[2J: larger than'), line);
  assert.ok(!/^\[ERROR\] forged/m.test(srv.log()), srv.log());
});

test('a static_dir that does not exist stops llmfork with a message', async () => {
  await assert.rejects(startLlmfork({ args: ['--static-dir', join(top, 'missing')] }),
    /static_dir .*missing.*No such file/);
});
