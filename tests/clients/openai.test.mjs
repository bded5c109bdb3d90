// The official openai npm SDK against llmfork's gateway (/v1 and Azure's
// /openai/deployments), with llmfork-mock as the model behind it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { AzureOpenAI } from 'openai';
import { startLlmfork, startMock } from './helpers.mjs';

const KEY = 'sk-llmfork-test';
const logDir = mkdtempSync(join(tmpdir(), 'llmfork-openai-'));
const accessLog = join(logDir, 'access.log');
let mock, srv;

before(async () => {
  mock = await startMock(['--tokens', '9', '--delay-ms', '5']);
  // max_retries 0: the 429 must reach the SDK, whose retry is under test.
  srv = await startLlmfork({ mock, args: ['--gateway-keys', KEY, '--max-retries', '0', '--access-logfile', accessLog],
  });
});

after(async () => {
  await srv?.stop();
  await mock?.stop();
  rmSync(logDir, { recursive: true, force: true });
});

const openai = (opts = {}) =>
  new OpenAI({ baseURL: srv.url + '/v1', apiKey: KEY, maxRetries: 0, ...opts });

test('chat.completions.create, not streaming', async () => {
  const res = await openai().chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say hello' }],
  });
  assert.equal(res.object, 'chat.completion');
  assert.equal(res.choices[0].message.content, await mock.answer(9));
  assert.equal(res.choices[0].finish_reason, 'stop');
  assert.equal(res.usage.completion_tokens, 9);
  const sent = (await mock.stats()).last_request;
  assert.equal(sent.path, '/v1/chat/completions');
  assert.deepEqual(sent.json.messages.at(-1), { role: 'user', content: 'Say hello' });
});

test('chat.completions.create with stream: true', async () => {
  const stream = await openai().chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Stream please [mock tokens=6]' }],
    stream: true,
  });
  let text = '';
  let chunks = 0;
  let finish = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    chunks++;
    text += chunk.choices[0]?.delta?.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, await mock.answer(6));
  assert.ok(chunks >= 6, `${chunks} chunks`);
  assert.equal(finish, 'stop');
});

test('models.list', async () => {
  const ids = [];
  for await (const m of openai().models.list()) ids.push(m.id);
  assert.ok(ids.length >= 1, 'at least the configured model');
});

test('AzureOpenAI client through /openai/deployments', async () => {
  const azure = new AzureOpenAI({
    endpoint: srv.url,
    apiKey: KEY,                // sent as the api-key header
    apiVersion: '2024-10-21',
    deployment: 'chat-deployment',
    maxRetries: 0,
  });
  const res = await azure.chat.completions.create({
    model: 'chat-deployment',
    messages: [{ role: 'user', content: 'Hello Azure [mock tokens=4]' }],
  });
  assert.equal(res.choices[0].message.content, await mock.answer(4));
  const stream = await azure.chat.completions.create({
    model: 'chat-deployment',
    messages: [{ role: 'user', content: 'Hello Azure [mock tokens=5]' }],
    stream: true,
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  assert.equal(text, await mock.answer(5));
  const log = readFileSync(accessLog, 'utf8');
  assert.match(log, /POST \/openai\/deployments\/chat-deployment\/chat\/completions\?api-version=2024-10-21 [^\n]*" 200 /);
});

test('a wrong key raises AuthenticationError', async () => {
  const before = (await mock.stats()).requests;
  await assert.rejects(
    openai({ apiKey: 'sk-wrong' }).chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    }),
    (err) => err instanceof OpenAI.AuthenticationError && err.status === 401,
  );
  const azure = new AzureOpenAI({
    endpoint: srv.url, apiKey: 'wrong', apiVersion: '2024-10-21', deployment: 'd', maxRetries: 0,
  });
  await assert.rejects(
    azure.chat.completions.create({ model: 'd', messages: [{ role: 'user', content: 'hi' }] }),
    OpenAI.AuthenticationError,
  );
  assert.equal((await mock.stats()).requests, before, 'refused before the upstream');
});

test('a 429 with retry-after is retried by the SDK, then succeeds', async () => {
  const s0 = await mock.stats();
  const t0 = Date.now();
  const res = await openai({ maxRetries: 2 }).chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{
      role: 'user',
      content: `Busy? [mock fault=429:ms=300 fail_count=1 fault_key=${randomUUID()} tokens=3]`,
    }],
  });
  const waited = Date.now() - t0;
  assert.equal(res.choices[0].message.content, await mock.answer(3));
  const s1 = await mock.stats();
  assert.equal(s1.faults - s0.faults, 1, 'one 429 was sent');
  assert.equal(s1.requests - s0.requests, 2, 'then one retry');
  // The gateway passes the mock's retry-after-ms: 300 on, which the SDK
  // prefers to Retry-After's whole seconds (1); without it, ~1,000 ms.
  assert.ok(waited >= 290 && waited < 950,
    `the SDK waited ${waited} ms as retry-after-ms said`);
});

test('without retries the SDK raises RateLimitError', async () => {
  await assert.rejects(
    openai().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Busy [mock fault=429]' }],
    }),
    (err) => err instanceof OpenAI.RateLimitError && err.headers.get('retry-after') === '1',
  );
});
