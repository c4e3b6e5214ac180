/**
 * The model card of a trained model's folder (`model-card.json`): what the model is, how it was trained,
 * the validation loss it reached and exactly how to measure it again, and a CRC-32 of each file it
 * describes, so that a damaged folder is told from a foreign one. `renderModelCardReadme` writes the same
 * facts for people.
 */
import CRC32 from 'crc-32';
import { z } from 'zod';
import { configFingerprint } from '../checkpoint/compatible';
import { formatTopologySpec, parseTopologySpec } from '../graph/spec';
import { AlgorithmConfigSchema } from '../optim/config';
import type { RunConfig } from '../protocol';
import { type GptConfig, GptConfigSchema, gptConfig, parameterCount } from './gpt';
import { INFERENCE_LOGITS, INFERENCE_TOKENS } from './inference';
import { OPSET } from './onnx';

export const MODEL_CARD_FORMAT = 'demuon-model';
export const MODEL_CARD_VERSION = 1;

/** The files of a model folder, and which of them the card checksums (itself and README.md it cannot). */
export const MODEL_FILES = {
  model: 'model.onnx',
  tokenizer: 'tokenizer.json',
  card: 'model-card.json',
  readme: 'README.md',
} as const;
export const CHECKSUMMED_FILES = [MODEL_FILES.model, MODEL_FILES.tokenizer] as const;

const FileEntrySchema = z
  .object({ bytes: z.number().int().min(0), crc32: z.string().regex(/^[0-9a-f]{8}$/) })
  .strict();
export type FileEntry = z.infer<typeof FileEntrySchema>;

/** Size and CRC-32 (8 lowercase hex digits) of a file's bytes. */
export function fileEntry(bytes: Uint8Array): FileEntry {
  return { bytes: bytes.length, crc32: (CRC32.buf(bytes) >>> 0).toString(16).padStart(8, '0') };
}

/**
 * How the card's validation loss is measured: the held-out Brown split of prepareBrownData({ vocabSize:
 * vocab, valFraction, seed: splitSeed }), `evalBatches` batches of `batch` rows drawn by fixedBatches with
 * `seed`, the mean token cross-entropy over all of them.
 */
export const EvaluationSpecSchema = z
  .object({
    corpus: z.literal('brown'),
    split: z.literal('validation'),
    /** The vocabulary size asked of the tokenizer's training (the one that made tokenizer.json). */
    vocab: z.number().int().min(258).max(65536),
    valFraction: z.number().gt(0).max(0.5),
    splitSeed: z.number().int().min(0),
    seed: z.number().int().min(0),
    batch: z.number().int().min(1).max(1024),
    evalBatches: z.number().int().min(1).max(10_000),
  })
  .strict();
export type EvaluationSpec = z.infer<typeof EvaluationSpecSchema>;

const topology = z
  .string()
  .min(1)
  .max(10_000)
  .refine(
    (text) => {
      try {
        parseTopologySpec(text);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'not a topology spec (ring, exp, torus:4x4, edges:0-1,1-2, …)' },
  );

export const ModelCardSchema = z
  .object({
    format: z.literal(MODEL_CARD_FORMAT),
    version: z.literal(MODEL_CARD_VERSION),
    run: z.object({ id: z.string().min(1).max(200), name: z.string().max(200).optional() }).strict(),
    /** configFingerprint of the run's config, when the model came from a run with a RunConfig. */
    configFingerprint: z
      .string()
      .regex(/^[0-9a-f]{8}$/)
      .optional(),
    model: GptConfigSchema,
    algorithm: AlgorithmConfigSchema,
    topology,
    /** Steps of training behind these parameters. */
    step: z.number().int().min(0),
    /** The average of the parameters of `peers` peers, or one peer's own. */
    source: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('average'), peers: z.number().int().min(1) }).strict(),
      z.object({ kind: z.literal('peer'), peer: z.string().min(1).max(200) }).strict(),
    ]),
    /** The run's peers when the parameters were taken. */
    peers: z.array(z.string().min(1).max(200)).min(1).max(100_000),
    validation: z.object({ loss: z.number().finite().min(0), spec: EvaluationSpecSchema }).strict(),
    createdAt: z.iso.datetime(),
    files: z
      .object({ [MODEL_FILES.model]: FileEntrySchema, [MODEL_FILES.tokenizer]: FileEntrySchema })
      .strict(),
  })
  .strict()
  .superRefine((card, ctx) => {
    if (card.source.kind === 'average' && card.source.peers !== card.peers.length)
      ctx.addIssue({
        code: 'custom',
        path: ['source', 'peers'],
        message: `an average of ${card.source.peers} peers, but ${card.peers.length} are listed`,
      });
    if (card.source.kind === 'peer' && !card.peers.includes(card.source.peer))
      ctx.addIssue({
        code: 'custom',
        path: ['source', 'peer'],
        message: `peer "${card.source.peer}" is not in the peers list`,
      });
    if (card.validation.spec.evalBatches * card.validation.spec.batch > 1_000_000)
      ctx.addIssue({ code: 'custom', path: ['validation', 'spec'], message: 'more than a million rows' });
  });
export type ModelCard = z.infer<typeof ModelCardSchema>;

/** What the creator of a model folder says; the writer adds the format, the model config and the files. */
export type ModelCardDraft = Omit<ModelCard, 'format' | 'version' | 'model' | 'files' | 'createdAt'> & {
  createdAt?: string;
};

/** Why a JSON value is not a usable model card; the message names the field. */
export class ModelCardError extends Error {}

/** A checked model card from parsed JSON: foreign JSON, another version and bad fields are told apart. */
export function parseModelCard(json: unknown): ModelCard {
  const format = (json as { format?: unknown } | null)?.format;
  if (typeof json !== 'object' || json === null || Array.isArray(json) || format !== MODEL_CARD_FORMAT)
    throw new ModelCardError(
      `not a model card: its "format" is ${JSON.stringify(format) ?? 'missing'}, not "${MODEL_CARD_FORMAT}"`,
    );
  const version = (json as { version?: unknown }).version;
  if (version !== MODEL_CARD_VERSION)
    throw new ModelCardError(
      `model card version ${JSON.stringify(version) ?? '(none)'}; this version reads ${MODEL_CARD_VERSION}`,
    );
  const parsed = ModelCardSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'card'}: ${i.message}`);
    throw new ModelCardError(`invalid model card: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** The complete, checked card for a draft, the model's config and the bytes of the checksummed files. */
export function completeModelCard(
  draft: ModelCardDraft,
  model: GptConfig,
  files: Record<(typeof CHECKSUMMED_FILES)[number], Uint8Array>,
): ModelCard {
  return parseModelCard({
    format: MODEL_CARD_FORMAT,
    version: MODEL_CARD_VERSION,
    ...draft,
    model,
    createdAt: draft.createdAt ?? new Date().toISOString(),
    files: Object.fromEntries(CHECKSUMMED_FILES.map((name) => [name, fileEntry(files[name])])),
  });
}

/**
 * The card's fields that a run's config determines: its id and name, the fingerprint, algorithm and
 * topology, and the evaluation spec its peers' validation uses (the Brown split at the default fraction).
 */
export function modelCardRunFields(
  run: RunConfig,
): Pick<ModelCardDraft, 'run' | 'configFingerprint' | 'algorithm' | 'topology'> & { spec: EvaluationSpec } {
  return {
    run: { id: run.id, ...(run.name ? { name: run.name } : {}) },
    configFingerprint: configFingerprint(run),
    algorithm: run.algorithm,
    topology: formatTopologySpec(run.topology),
    spec: brownValidationSpec({
      vocab: run.model.vocab ?? gptConfig(run.model.preset).vocabSize,
      seed: run.seed,
      batch: run.batch,
      evalBatches: run.evalBatches,
    }),
  };
}

/** The validation batches peers and the simulator evaluate on: the held-out Brown split at its default fraction. */
export function brownValidationSpec(
  batches: Pick<EvaluationSpec, 'vocab' | 'seed' | 'batch' | 'evalBatches'>,
): EvaluationSpec {
  return { corpus: 'brown', split: 'validation', valFraction: 0.1, splitSeed: 0, ...batches };
}

/** The card of parameters taken from a run's members: the run's fields, then where they came from. */
export function runModelCard(
  run: RunConfig,
  taken: Pick<ModelCardDraft, 'step' | 'source' | 'peers'> & { loss: number },
): ModelCardDraft {
  const { spec, ...fields } = modelCardRunFields(run);
  const { step, source, peers, loss } = taken;
  return { ...fields, step, source, peers, validation: { loss, spec } };
}

/** A short model card for people, from the machine-readable one. */
export function renderModelCardReadme(card: ModelCard): string {
  const m = card.model;
  const spec = card.validation.spec;
  const title = card.run.name ?? card.run.id;
  const source =
    card.source.kind === 'average'
      ? `the average of the parameters of its ${card.source.peers} peers`
      : `the parameters of peer ${card.source.peer}`;
  const lr = card.algorithm.lr;
  const row = (name: string, value: string) => `| ${name} | ${value.replaceAll('|', '\\|')} |`;
  return [
    `# ${title}`,
    '',
    `A causal GPT trained on the Brown corpus with ${card.algorithm.name} on a ${card.topology} of ` +
      `${card.peers.length} peer${card.peers.length === 1 ? '' : 's'}: ${source} after ${card.step} steps.`,
    '',
    '| | |',
    '|---|---|',
    row(
      'model',
      `${(parameterCount(m) / 1e6).toFixed(2)}M parameters: vocabulary ${m.vocabSize}, d_model ${m.dModel}, ` +
        `${m.layers} layers, ${m.heads} heads, FFN ${m.dFF}, context ${m.context}`,
    ),
    row(
      'validation loss',
      `${card.validation.loss.toFixed(4)} (perplexity ${Math.exp(card.validation.loss).toFixed(2)}) on ` +
        `${spec.evalBatches} batch${spec.evalBatches === 1 ? '' : 'es'} of ${spec.batch}×${m.context} tokens of the held-out Brown split ` +
        `(fraction ${spec.valFraction}, split seed ${spec.splitSeed}, batch seed ${spec.seed}, vocabulary ${spec.vocab})`,
    ),
    row('algorithm', `${card.algorithm.name}, step size ${lr.eta} (${lr.schedule})`),
    row('run', `${card.run.id}${card.configFingerprint ? ` (config ${card.configFingerprint})` : ''}`),
    row('peers', card.peers.join(', ')),
    row('created', card.createdAt),
    '',
    '## Files',
    '',
    `- \`${MODEL_FILES.model}\`: ONNX (opset ${OPSET}) with the weights inside; input \`${INFERENCE_TOKENS}\` ` +
      `int32 [1, ${m.context}], output \`${INFERENCE_LOGITS}\` float32 [1, ${m.context}, ${m.vocabSize}]. ` +
      `CRC-32 ${card.files[MODEL_FILES.model].crc32}.`,
    `- \`${MODEL_FILES.tokenizer}\`: the byte-level BPE tokenizer (id 256 ends a document). ` +
      `CRC-32 ${card.files[MODEL_FILES.tokenizer].crc32}.`,
    `- \`${MODEL_FILES.card}\`: these facts, machine-readable, with each file's size and checksum.`,
    '',
    '## Use',
    '',
    '```sh',
    'npm run generate -- --model DIR --prompt "The jury said" --tokens 100 --temperature 0.8 --top-k 40',
    'npm run evaluate -- --model DIR      # measures the validation loss above again',
    '```',
    '',
  ].join('\n');
}
