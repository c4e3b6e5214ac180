/** Run configs from a JSON file or from code, and the run every server has: `default`. */
import { readFileSync } from 'node:fs';
import { type RunConfig, RunConfigSchema } from '@demuon/shared/protocol';
import { issuesText } from './run-store';

/**
 * A small GPT on the Brown corpus, peers on a ring, DeMuon with a linearly decaying step size: the input,
 * which the command-line flags of run-flags.ts reshape, and the config it parses to.
 */
export const DEFAULT_RUN_INPUT = {
  id: 'default',
  name: 'Small GPT on the Brown corpus (ring, DeMuon)',
  model: { preset: 'small' },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05, schedule: 'linear' } },
} as const;

export const DEFAULT_RUN: RunConfig = RunConfigSchema.parse(DEFAULT_RUN_INPUT);

/** An array of run configs; the error names the source, the run (index and id) and every problem. */
export function parseRunConfigs(input: unknown, source: string): RunConfig[] {
  if (!Array.isArray(input)) {
    throw new Error(`${source}: expected a JSON array of run configs, got ${describe(input)}`);
  }
  const seen = new Set<string>();
  return input.map((entry, i) => {
    const id = (entry as { id?: unknown } | null)?.id;
    const label = `${source}: run ${i}${typeof id === 'string' ? ` ("${id}")` : ''}`;
    const parsed = RunConfigSchema.safeParse(entry);
    if (!parsed.success) throw new Error(`${label}: ${issuesText(parsed.error)}`);
    if (seen.has(parsed.data.id)) throw new Error(`${label}: the id "${parsed.data.id}" is used twice`);
    seen.add(parsed.data.id);
    return parsed.data;
  });
}

export function readRunConfigFile(path: string): RunConfig[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  return parseRunConfigs(json, `config file ${path}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object (wrap a single run in [ … ])';
  return typeof value;
}
