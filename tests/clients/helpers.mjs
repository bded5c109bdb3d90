// Starts and stops what the client tests talk to: build/llmfork and
// build/llmfork-mock, on free loopback ports, killed when the test file
// ends (or the runner dies).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const BUILD = process.env.LLMFORK_BUILD || resolve(here, '../../build');

const children = new Set();
process.on('exit', () => {
  for (const p of children) p.kill('SIGKILL');
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value; throws after ms.
export async function waitFor(fn, ms = 5000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

function run(file, args, env) {
  const p = spawn(join(BUILD, file), args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  p.log = '';
  p.stderr.setEncoding('utf8');
  p.stderr.on('data', (d) => { p.log += d; });
  p.exited = new Promise((ok) => p.once('exit', (code, sig) => {
    children.delete(p);
    ok(code ?? sig);
  }));
  children.add(p);
  return p;
}

// Stops p; under a sanitizer build (make SAN=1, LLMFORK_BUILD=build/san)
// a report in its stderr fails the test file.
async function stop(p) {
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await p.exited;
    clearTimeout(t);
  }
  if (/Sanitizer|runtime error:/.test(p.log)) throw new Error('sanitizer report:\n' + p.log);
}

// The environment without settings a developer's shell may carry.
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(LLMFORK_|OPENAI_|AZURE_OPENAI_|WEB_CONCURRENCY$)/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

// build/llmfork-mock; args e.g. ['--tokens', '10', '--delay-ms', '20'].
export async function startMock(args = []) {
  const dir = mkdtempSync(join(tmpdir(), 'llmfork-mock-'));
  const portFile = join(dir, 'port');
  const p = run('llmfork-mock', ['--listen', '127.0.0.1:0', '--port-file', portFile, ...args],
    cleanEnv({}));
  const port = await waitFor(() => {
    if (p.exitCode !== null) throw new Error('llmfork-mock exited: ' + p.log);
    try {
      return Number(readFileSync(portFile, 'utf8').trim());
    } catch {
      return 0;
    }
  }, 5000, 'llmfork-mock');
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    stats: async () => (await fetch(url + '/_mock/stats')).json(),
    answer: async (tokens) => (await (await fetch(`${url}/_mock/answer?tokens=${tokens}`)).json()).content,
    stop: async () => {
      await stop(p);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// build/llmfork with one worker; args are command-line settings. With
// mock (a startMock result), the provider is openai at the mock. kill(sig)
// signals the master (SIGQUIT: quick stop, streams cut off).
export async function startLlmfork({ args = [], env = {}, mock = null } = {}) {
  const up = mock
    ? { LLMFORK_PROVIDER: 'openai', OPENAI_BASE_URL: mock.url + '/v1', OPENAI_API_KEY: 'x' }
    : {};
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const p = run('llmfork', ['-b', `127.0.0.1:${port}`, '-w', '1', '--graceful-timeout', '1',
      ...args], cleanEnv({ ...up, ...env }));
    const url = `http://127.0.0.1:${port}`;
    const state = await waitFor(async () => {
      if (p.exitCode !== null) return 'exited';
      try {
        return (await fetch(url + '/healthz')).ok && 'up';
      } catch {
        return false;
      }
    }, 10000, 'llmfork');
    if (state === 'up') {
      return { url, port, log: () => p.log, stop: () => stop(p), kill: (sig) => p.kill(sig) };
    }
    // Another process may have taken the port between our probe and bind.
    if (attempt >= 3 || !/in use/i.test(p.log)) throw new Error('llmfork exited: ' + p.log);
  }
}

// Debian's Chromium, driven by playwright-core, with a new empty profile.
// Returns a browser context (opts: playwright context options such as
// viewport); closing it stops Chromium.
export async function launchChromium(opts = {}) {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'llmfork-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    ...opts,
  });
  const close = ctx.close.bind(ctx);
  ctx.close = async () => {
    await close();
    rmSync(profile, { recursive: true, force: true });
  };
  return ctx;
}
