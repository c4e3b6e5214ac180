/** Checked conversions of command-line flag values: each error names the flag and the value given. */

export function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) {
    throw new Error(`${flag} must be a positive integer, got '${value}'`);
  }
  return n;
}

export function nonNegativeInt(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) {
    throw new Error(`${flag} must be a non-negative integer, got '${value}'`);
  }
  return n;
}

export function positiveNumber(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new Error(`${flag} must be a positive number, got '${value}'`);
  }
  return n;
}

export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new Error(`${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  }
  return value as T;
}

export function nonNegativeNumber(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new Error(`${flag} must be a number ≥ 0, got '${value}'`);
  }
  return n;
}

/** A problem with the command line itself: the CLIs that use it exit with status 2 and their usage. */
export class UsageError extends Error {}

/** Runs `parse` (flag parsing and checks), turning whatever it throws into a UsageError. */
export function usageChecked<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * Runs a CLI's main: a UsageError exits with status 2 and the usage, any other error with status 1.
 * Both print `error: …` first.
 */
export function runCli(main: () => Promise<void>, usage: string): void {
  main().catch((error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    if (error instanceof UsageError) {
      console.error(usage);
      process.exit(2);
    }
    process.exit(1);
  });
}
