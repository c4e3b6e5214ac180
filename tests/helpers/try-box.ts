/** The Try box of a page (join page or overview) as tests drive it: a generation, and how its text grew. */
import type { Page } from 'playwright-core';

declare global {
  interface Window {
    /** Each change of the Try box's generated text: its length and when it came. */
    tryGrowth?: { length: number; at: number }[];
  }
}

/** Generates `tokens` tokens from `prompt` in the tab's Try box; each growth of the text is noted. */
export async function generateInTryBox(page: Page, prompt: string, tokens: number) {
  await page.evaluate(() => {
    window.tryGrowth = [];
    const generated = document.querySelector('#try-output .try-generated')!;
    new MutationObserver(() =>
      window.tryGrowth!.push({ length: generated.textContent!.length, at: performance.now() }),
    ).observe(generated, { childList: true, characterData: true, subtree: true });
  });
  await page.fill('#try-prompt', prompt);
  await page.fill('#try-tokens', String(tokens));
  await page.click('#try-generate');
  await page.waitForFunction(() => document.getElementById('try-status')?.dataset.state === 'done', null, {
    timeout: 45_000,
  });
  return {
    status: (await page.locator('#try-status').textContent())!,
    growth: await page.evaluate(() => window.tryGrowth!),
    text: (await page.locator('#try-output .try-generated').textContent())!,
    tokens: Number(await page.locator('#try-output').getAttribute('data-tokens')),
  };
}
