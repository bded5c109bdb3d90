// @microsoft/ai-chat-protocol's AIChatProtocolClient against llmfork's chat
// app (/chat, /chat/stream), with llmfork-mock as the model.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AIChatProtocolClient } from '@microsoft/ai-chat-protocol';
import { startLlmfork, startMock } from './helpers.mjs';

let mock, srv, client;

before(async () => {
  mock = await startMock(['--tokens', '12', '--delay-ms', '5']);
  srv = await startLlmfork({ mock, args: ['--max-retries', '0'] });
  client = new AIChatProtocolClient(srv.url + '/chat');
});

after(async () => {
  await srv?.stop();
  await mock?.stop();
});

test('getCompletion returns the content the mock sent', async () => {
  const want = await mock.answer(12);
  const res = await client.getCompletion([{ role: 'user', content: 'Hello there' }]);
  assert.equal(res.message.role, 'assistant');
  assert.equal(res.message.content, want);
  const sent = (await mock.stats()).last_request.json;
  assert.deepEqual(sent.messages.at(-1), { role: 'user', content: 'Hello there' });
  assert.equal(sent.stream, false);
});

test('getStreamedCompletion returns the content in pieces', async () => {
  const want = await mock.answer(7);
  const stream = await client.getStreamedCompletion([
    { role: 'user', content: 'Hi [mock tokens=7]' },
  ]);
  let text = '';
  let pieces = 0;
  for await (const chunk of stream) {
    if (chunk.delta?.content) {
      text += chunk.delta.content;
      pieces++;
    }
  }
  assert.equal(text, want);
  assert.equal(pieces, 7, 'one line per token');
  assert.equal((await mock.stats()).last_request.json.stream, true);
});

test('an upstream failure mid-stream reaches the client as an error', async () => {
  const want = await mock.answer(12);
  const stream = await client.getStreamedCompletion([
    { role: 'user', content: 'Hi [mock fault=cut:after=4]' },
  ]);
  let text = '';
  await assert.rejects(async () => {
    for await (const chunk of stream) text += chunk.delta?.content ?? '';
  }, (err) => {
    // The client throws the {"error": ...} line's value as it is.
    assert.equal(typeof err, 'string');
    assert.match(err, /model/);
    return true;
  });
  assert.ok(text.length > 0 && want.startsWith(text) && text !== want,
    `a partial answer came first: ${JSON.stringify(text)}`);
});

test('an upstream error before the stream starts is an error too', async () => {
  // 400: not one the client's own retry policy waits on.
  await assert.rejects(
    client.getStreamedCompletion([{ role: 'user', content: 'Hi [mock fault=400]' }]),
    (err) => /Mock fault: HTTP 400/.test(typeof err === 'string' ? err : err.message),
  );
});
