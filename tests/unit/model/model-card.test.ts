/** The model card: its schema, how foreign, newer and wrong cards are told apart, and its README. */
import { configFingerprint } from '@demuon/shared/checkpoint';
import {
  completeModelCard,
  fileEntry,
  GPT_PRESETS,
  gptConfig,
  MODEL_CARD_FORMAT,
  type ModelCard,
  type ModelCardDraft,
  ModelCardError,
  modelCardRunFields,
  parseModelCard,
  renderModelCardReadme,
} from '@demuon/shared/model';
import { algorithmConfig } from '@demuon/shared/optim';
import { RunConfigSchema } from '@demuon/shared/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const model = gptConfig('tiny');
const files = { 'model.onnx': Uint8Array.of(1, 2, 3), 'tokenizer.json': new TextEncoder().encode('{}') };
const draft: ModelCardDraft = {
  run: { id: 'quick', name: 'Quick run' },
  algorithm: algorithmConfig({ name: 'demuon', lr: { eta: 0.02, schedule: 'linear' } }),
  topology: 'ring',
  step: 100,
  source: { kind: 'average', peers: 2 },
  peers: ['node-0', 'node-1'],
  validation: {
    loss: 4.25,
    spec: {
      corpus: 'brown',
      split: 'validation',
      vocab: 512,
      valFraction: 0.1,
      splitSeed: 0,
      seed: 3,
      batch: 8,
      evalBatches: 2,
    },
  },
  createdAt: '2025-01-02T03:04:05.000Z',
};
const card = completeModelCard(draft, model, files);
/** The card as it is on disk. */
const json = (): ModelCard => JSON.parse(JSON.stringify(card));

describe('model card', () => {
  it('completes a draft with the format, the model and a checksum of each file, and reads it back', () => {
    expect(card.format).toBe(MODEL_CARD_FORMAT);
    expect(card.version).toBe(1);
    expect(card.model).toEqual(model);
    expect(card.files['model.onnx']).toEqual({ bytes: 3, crc32: fileEntry(files['model.onnx']).crc32 });
    expect(parseModelCard(json())).toEqual(card);
  });

  it('writes CRC-32 as 8 lowercase hex digits', () => {
    expect(fileEntry(new TextEncoder().encode('123456789'))).toEqual({ bytes: 9, crc32: 'cbf43926' });
    expect(fileEntry(new Uint8Array(0)).crc32).toBe('00000000');
  });

  it('tells foreign JSON from a model card', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(() => parseModelCard(value)).toThrow(ModelCardError);
        expect(() => parseModelCard(value)).toThrow(/not a model card/);
      }),
    );
    expect(() => parseModelCard({ ...json(), format: 'demuon-checkpoint' })).toThrow(
      /not a model card: its "format" is "demuon-checkpoint"/,
    );
  });

  it('names the version it cannot read', () => {
    expect(() => parseModelCard({ ...json(), version: 2 })).toThrow(
      /model card version 2; this version reads 1/,
    );
  });

  it.each<[string, (c: ModelCard) => void, RegExp]>([
    ['a negative loss', (c) => (c.validation.loss = -1), /validation\.loss/],
    ['a model that cannot be', (c) => (c.model.heads = 3), /model\.heads/],
    ['an unknown algorithm', (c) => ((c.algorithm as { name: string }).name = 'sgd'), /algorithm/],
    ['an unknown topology', (c) => (c.topology = 'hypercube'), /topology: not a topology spec/],
    ['a bad checksum', (c) => (c.files['model.onnx'].crc32 = 'xyz'), /files\.model\.onnx\.crc32/],
    [
      'a missing file entry',
      (c) => delete (c.files as Partial<ModelCard['files']>)['tokenizer.json'],
      /files\.tokenizer\.json/,
    ],
    [
      'an average of fewer peers than listed',
      (c) => (c.source = { kind: 'average', peers: 3 }),
      /source\.peers: an average of 3/,
    ],
    ['a source peer not listed', (c) => (c.source = { kind: 'peer', peer: 'x' }), /source\.peer/],
    ['an unknown field', (c) => Object.assign(c, { extra: 1 }), /extra/],
    ['a bad date', (c) => (c.createdAt = 'yesterday'), /createdAt/],
  ])('names the field of %s', (_, change, message) => {
    const changed = json();
    change(changed);
    expect(() => parseModelCard(changed)).toThrow(message);
  });

  it('takes the fingerprint, algorithm, topology and evaluation spec from a run config', () => {
    const run = RunConfigSchema.parse({
      id: 'r1',
      name: 'Run one',
      model: { preset: 'tiny' },
      topology: { kind: 'torus', rows: 2, cols: 2 },
      algorithm: { name: 'gt-nsgdm', lr: { eta: 0.01 } },
      seed: 5,
      batch: 4,
      evalBatches: 3,
    });
    const fields = modelCardRunFields(run);
    expect(fields.configFingerprint).toBe(configFingerprint(run));
    expect(fields.run).toEqual({ id: 'r1', name: 'Run one' });
    expect(fields.topology).toBe('torus:2x2');
    expect(fields.spec).toMatchObject({
      vocab: GPT_PRESETS.tiny.vocabSize,
      seed: 5,
      batch: 4,
      evalBatches: 3,
    });
    const { spec, ...rest } = fields;
    const fromRun = completeModelCard({ ...draft, ...rest, validation: { loss: 3, spec } }, model, files);
    expect(parseModelCard(JSON.parse(JSON.stringify(fromRun))).configFingerprint).toBe(
      configFingerprint(run),
    );
  });

  it('renders a README with what the model is, its loss and how to measure it', () => {
    const readme = renderModelCardReadme(card);
    expect(readme).toMatch(/^# Quick run\n/);
    expect(readme).toContain('demuon on a ring of 2 peers');
    expect(readme).toContain('4.2500 (perplexity 70.11)');
    expect(readme).toContain('2 batches of 8×32 tokens');
    expect(readme).toContain(card.files['model.onnx'].crc32);
    expect(readme).toContain('npm run evaluate -- --model DIR');
  });
});
