// Saves a picture of the chat page after a short conversation (for the
// README): node screenshot.mjs OUT.png. Uses the built-in mock model, and
// catches the last answer while it is still streaming.
import { resolve } from 'node:path';
import { launchChromium, startLlmfork, waitFor } from './helpers.mjs';

const out = resolve(process.argv[2] || '../../docs/chat.png');
const srv = await startLlmfork({ args: ['--mock-tokens', '30', '--mock-delay-ms', '25'] });
const browser = await launchChromium({ viewport: { width: 860, height: 800 }, deviceScaleFactor: 2 });
try {
  const page = await browser.newPage();
  await page.emulateMedia({ colorScheme: 'light', reducedMotion: 'reduce' });
  await page.goto(srv.url + '/');
  const box = page.getByLabel('Message');
  const idle = () => waitFor(async () => page.locator('#send').isVisible(), 10000, 'answer');
  for (const q of ['What is llmfork?', 'Can I watch the answer arrive?']) {
    await box.fill(q);
    await box.press('Enter');
    await idle();
  }
  await box.fill('And if I want it to stop?');
  await box.press('Enter');
  await waitFor(async () =>
    (await page.locator('.msg.streaming .content').textContent()).length > 60, 10000, 'tokens');
  await page.screenshot({ path: out });
  console.log('wrote ' + out);
} finally {
  await browser.close();
  await srv.stop();
}
