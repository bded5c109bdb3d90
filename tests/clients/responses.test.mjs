// The openai npm SDK's Responses API against llmfork's gateway, both
// ways: passed through to a provider that speaks it (openai: native) and
// translated from chat completions (responses_upstream = chat).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startLlmfork, startMock } from './helpers.mjs';

const KEY = 'sk-llmfork-test';

for (const way of ['native', 'chat']) {
  describe(`responses, ${way} way`, () => {
    let mock, srv;
    before(async () => {
      mock = await startMock(['--tokens', '7', '--delay-ms', '2']);
      srv = await startLlmfork({ mock, args: ['--gateway-keys', KEY],
        env: { LLMFORK_RESPONSES_UPSTREAM: way } });
    });
    after(async () => {
      await srv?.stop();
      await mock?.stop();
    });
    const openai = () => new OpenAI({ baseURL: srv.url + '/v1', apiKey: KEY, maxRetries: 0 });
    const upstreamPath = async () => (await mock.stats()).last_request.path;

    test('responses.create, not streaming', async () => {
      const res = await openai().responses.create({
        model: 'gpt-4o-mini', instructions: 'Be brief.', input: 'Say hello',
      });
      assert.equal(res.object, 'response');
      assert.equal(res.status, 'completed');
      assert.equal(res.output_text, await mock.answer(7));
      assert.equal(await upstreamPath(), way === 'native' ? '/v1/responses' : '/v1/chat/completions');
    });

    test('responses.stream with finalResponse()', async () => {
      const stream = openai().responses.stream({
        model: 'gpt-4o-mini',
        input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Stream please' }] }],
      });
      let text = '';
      const types = [];
      stream.on('response.output_text.delta', (e) => { text += e.delta; });
      for await (const e of stream) types.push(e.type);
      const final = await stream.finalResponse();
      assert.equal(types[0], 'response.created');
      assert.equal(types.at(-1), 'response.completed');
      assert.ok(types.includes('response.output_text.done'));
      assert.equal(text, await mock.answer(7));
      assert.equal(final.output_text, text);
      assert.equal(final.status, 'completed');
    });
  });
}
