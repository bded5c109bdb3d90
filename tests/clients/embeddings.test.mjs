// The official openai npm SDK's embeddings.create through llmfork's
// gateway: the OpenAI client (/v1/embeddings, which asks for base64 and
// decodes it unless told otherwise) and the AzureOpenAI client
// (/openai/deployments/{d}/embeddings), with llmfork-mock behind it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { AzureOpenAI } from 'openai';
import { startLlmfork, startMock } from './helpers.mjs';

const KEY = 'sk-llmfork-test';
let mock, oai, az;

before(async () => {
  mock = await startMock();
  oai = await startLlmfork({ mock, args: ['--gateway-keys', KEY, '--max-retries', '0'] });
  az = await startLlmfork({
    args: ['--gateway-keys', KEY, '--max-retries', '0'],
    env: {
      LLMFORK_PROVIDER: 'azure', AZURE_OPENAI_ENDPOINT: mock.url + '/',
      AZURE_OPENAI_CHAT_DEPLOYMENT: 'chat-dep', AZURE_OPENAI_API_KEY: 'x',
      AZURE_OPENAI_EMB_DEPLOYMENT: 'emb-dep',
    },
  });
});

after(async () => {
  await oai?.stop();
  await az?.stop();
  await mock?.stop();
});

const input = ['red running shoes', 'a blue winter hat'];

function assertClose(a, b) {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-6, `[${i}] ${x} vs ${b[i]}`));
}

test('embeddings.create: base64 by default, decoded by the SDK', async () => {
  const client = new OpenAI({ baseURL: oai.url + '/v1', apiKey: KEY, maxRetries: 0 });
  const res = await client.embeddings.create({ model: 'text-embedding-3-small', input, dimensions: 16 });
  const sent = (await mock.stats()).last_request;
  assert.equal(sent.path, '/v1/embeddings');
  assert.equal(sent.json.encoding_format, 'base64');
  assert.equal(res.object, 'list');
  assert.equal(res.model, 'text-embedding-3-small');
  assert.deepEqual(res.data.map((d) => d.index), [0, 1]);
  assert.ok(res.usage.prompt_tokens > 0);
  const floats = await client.embeddings.create({
    model: 'text-embedding-3-small', input, dimensions: 16, encoding_format: 'float',
  });
  for (let i = 0; i < 2; i++) {
    assert.equal(res.data[i].embedding.length, 16);
    assert.ok(Array.isArray(floats.data[i].embedding));
    assertClose(Array.from(res.data[i].embedding), floats.data[i].embedding);
  }
  // A unit vector: the mock's vectors are normalised.
  const norm = Math.hypot(...floats.data[0].embedding);
  assert.ok(Math.abs(norm - 1) < 1e-4, `norm ${norm}`);
});

test('embeddings.create: the provider\'s 400 raises BadRequestError', async () => {
  const client = new OpenAI({ baseURL: oai.url + '/v1', apiKey: KEY, maxRetries: 0 });
  await assert.rejects(client.embeddings.create({ model: 'text-embedding-3-small', input: [] }),
    (err) => err instanceof OpenAI.BadRequestError && /input/.test(err.message));
  await assert.rejects(
    new OpenAI({ baseURL: oai.url + '/v1', apiKey: 'wrong', maxRetries: 0 })
      .embeddings.create({ model: 'm', input: 'x' }),
    OpenAI.AuthenticationError);
});

test('AzureOpenAI embeddings.create through /openai/deployments', async () => {
  const client = new AzureOpenAI({
    endpoint: az.url, apiKey: KEY, apiVersion: '2024-10-21', deployment: 'emb-dep', maxRetries: 0,
  });
  const res = await client.embeddings.create({ model: 'emb-dep', input: 'red running shoes', dimensions: 16 });
  const sent = (await mock.stats()).last_request;
  assert.equal(sent.path, '/openai/deployments/emb-dep/embeddings');
  assert.match(sent.query, /api-version=/);
  assert.equal(res.data.length, 1);
  assert.equal(res.data[0].embedding.length, 16);
  const v1 = await new OpenAI({ baseURL: oai.url + '/v1', apiKey: KEY }).embeddings.create({
    model: 'x', input: 'red running shoes', dimensions: 16,
  });
  assertClose(Array.from(res.data[0].embedding), Array.from(v1.data[0].embedding));
});
