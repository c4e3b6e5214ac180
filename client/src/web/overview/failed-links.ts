/**
 * The links members gave up on (run-state `failedLinks`: `from` stopped waiting for `to`, for `reason`, at
 * `step`). Read defensively, as a server without the field, or with a malformed entry, may send it:
 * anything missing or malformed counts as no failed link.
 */
import type { RunState } from './types';

export type FailedLink = { from: string; to: string; reason: string; step?: number };

export function failedLinksOf(state: RunState): FailedLink[] {
  const list = (state as unknown as { failedLinks?: unknown }).failedLinks;
  if (!Array.isArray(list)) return [];
  const links: FailedLink[] = [];
  for (const l of list as unknown[]) {
    if (typeof l !== 'object' || l === null) continue;
    const { from, to, reason, step } = l as Record<string, unknown>;
    if (typeof from !== 'string' || typeof to !== 'string' || typeof reason !== 'string') continue;
    links.push({ from, to, reason, ...(typeof step === 'number' ? { step } : {}) });
  }
  return links;
}

/** "silent, at step 40": why and when, for tooltips and the link list. */
export function describeFailure(link: FailedLink): string {
  return link.step === undefined ? link.reason : `${link.reason}, at step ${link.step}`;
}
