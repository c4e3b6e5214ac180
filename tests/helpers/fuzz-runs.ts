/**
 * How many cases a property-based test runs: its default, or FUZZ_RUNS for all of them (a benchmark may
 * run 100 000), with a test timeout that grows with them.
 */
export function fuzzRuns(defaultRuns: number): number {
  const given = process.env.FUZZ_RUNS;
  if (given === undefined || given === '') return defaultRuns;
  const runs = Number(given);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`FUZZ_RUNS must be a positive integer, not '${given}'`);
  return runs;
}

/** A test timeout for `runs` cases of about `msPerCase` each (on a loaded machine), at least 2 minutes. */
export function fuzzTimeoutMs(runs: number, msPerCase: number): number {
  return Math.max(120_000, runs * msPerCase);
}
