/** Validated algorithm configurations and step-size schedules. */
import { z } from 'zod';

export const StepSizeSchema = z
  .object({
    eta: z.number().positive(),
    schedule: z.enum(['constant', 'linear', 'sqrt', 'inverse']).default('constant'),
  })
  .strict();
export type StepSize = z.infer<typeof StepSizeSchema>;

/** η_k for iteration k (0-based) of K: constant η, linear η(1 − k/K), η/√(k+1), η/(k+1). */
export function stepSize({ eta, schedule }: StepSize, k: number, total: number): number {
  switch (schedule) {
    case 'constant':
      return eta;
    case 'linear':
      return eta * (1 - k / total);
    case 'sqrt':
      return eta / Math.sqrt(k + 1);
    case 'inverse':
      return eta / (k + 1);
  }
}

const NewtonSchulz = z
  .object({
    schedule: z.enum(['ns5', 'polar5']).default('ns5'),
    steps: z.number().int().min(1).max(50).default(5),
  })
  .strict()
  .refine((ns) => ns.schedule !== 'polar5' || ns.steps <= 5, {
    message: 'the polar5 schedule has 5 steps at most',
  });

/** How update directions are formed per tensor (see direction.ts). */
const Polar = {
  /** `demuon`: msgn for every 2-D tensor; `muon`: msgn for hidden matrices only. */
  routing: z.enum(['demuon', 'muon']).default('demuon'),
  ns: NewtonSchulz.default({ schedule: 'ns5', steps: 5 }),
  /** none (DeMuon's code), muon: √max(1, fanOut/fanIn), moonlight: 0.2·√max(m, n). */
  scale: z.enum(['none', 'muon', 'moonlight']).default('none'),
};

const theta = z.number().gt(0).max(1);

export const AlgorithmConfigSchema = z.discriminatedUnion('name', [
  z
    .object({
      name: z.literal('demuon'),
      lr: StepSizeSchema,
      theta: theta.default(0.2),
      ...Polar,
      /**
       * Round 2 goes out in this many tensor groups, each sent while the next group's Newton–Schulz
       * runs (1: compute everything, then send). Only the timing depends on it, not the result.
       */
      overlap: z.number().int().min(1).max(64).default(4),
    })
    .strict(),
  z.object({ name: z.literal('dsgd'), lr: StepSizeSchema }).strict(),
  z
    .object({ name: z.literal('dsgd-clip'), lr: StepSizeSchema, tau: z.number().positive().default(0.1) })
    .strict(),
  z
    .object({ name: z.literal('gt-nsgdm'), lr: StepSizeSchema, beta: z.number().min(0).lt(1).default(0.8) })
    .strict(),
  z.object({ name: z.literal('gt-dsgd'), lr: StepSizeSchema }).strict(),
  z
    .object({
      name: z.literal('suda'),
      lr: StepSizeSchema,
      backbone: z.enum(['ed', 'd2', 'extra', 'atc-gt', 'atc-dsgd']).default('ed'),
      /** gradient: D = g (the classic backbone); the Muon variants track then polarise, or the reverse. */
      direction: z
        .enum(['gradient', 'track-then-polarize', 'polarize-then-track'])
        .default('track-then-polarize'),
      theta: theta.default(0.2),
      ...Polar,
    })
    .strict(),
  z
    .object({
      name: z.literal('avg-polarize'),
      lr: StepSizeSchema,
      theta: theta.default(0.2),
      ...Polar,
    })
    .strict(),
  z
    .object({
      name: z.literal('central-muon'),
      lr: StepSizeSchema,
      beta: z.number().min(0).lt(1).default(0.95),
      nesterov: z.boolean().default(true),
      ...Polar,
      routing: z.enum(['demuon', 'muon']).default('muon'),
      scale: z.enum(['none', 'muon', 'moonlight']).default('muon'),
    })
    .strict(),
  z
    .object({
      name: z.literal('central-adamw'),
      lr: StepSizeSchema,
      beta1: z.number().min(0).lt(1).default(0.9),
      beta2: z.number().min(0).lt(1).default(0.95),
      eps: z.number().positive().default(1e-8),
      weightDecay: z.number().min(0).default(0),
    })
    .strict(),
]);

export type AlgorithmConfig = z.infer<typeof AlgorithmConfigSchema>;
export type AlgorithmName = AlgorithmConfig['name'];
export const ALGORITHM_NAMES = AlgorithmConfigSchema.options.map((o) => o.shape.name.value);

/** Parses an algorithm config and names every problem found. */
export function algorithmConfig(input: unknown): AlgorithmConfig {
  const parsed = AlgorithmConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'algorithm'}: ${i.message}`);
    throw new Error(`invalid algorithm config: ${problems.join('; ')}`);
  }
  return parsed.data;
}
