/**
 * Packs a run's model for "Download the model": X̄ as the inference graph, measured on the run's validation
 * batches (the held-out Brown split the server serves beside the corpus) through that graph on
 * onnxruntime-web, then the model folder of a device (model.onnx, tokenizer.json, model-card.json,
 * README.md) zipped into one file. In a worker: building and measuring a model would stall the page.
 */
import { BpeTokenizer, decodeCorpusBundle, fixedBatches } from '@demuon/shared/data';
import {
  buildInferenceGraph,
  gptConfig,
  modelCardRunFields,
  modelFolderFiles,
  runModelCard,
} from '@demuon/shared/model';
import { zipSync } from 'fflate';
import * as ort from 'onnxruntime-web';
import type { OrtModule } from '../engine/ort-engine';
import { OrtInference } from '../engine/ort-inference';
import type { PackageEvent, PackageRequest } from './messages';

const scope = globalThis as unknown as {
  postMessage(message: PackageEvent, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<PackageRequest>) => void) | null;
};

ort.env.wasm.wasmPaths = new URL('/ort/', self.location.href).href;
ort.env.wasm.numThreads = 1;

scope.onmessage = (event) => {
  pack(event.data).then(
    (done) => scope.postMessage(done, [done.zip.buffer as ArrayBuffer]),
    (error: unknown) =>
      scope.postMessage({ type: 'failed', message: (error as Error).message ?? String(error) }),
  );
};

async function pack({ run, step, peers, params, origin }: PackageRequest) {
  const { vocab } = modelCardRunFields(run).spec;
  const fetched = async (path: string) => {
    const response = await fetch(`${origin}/data/${path}`);
    if (!response.ok)
      throw new Error(`the server has no /data/${path} (HTTP ${response.status}): run npm run build:web`);
    return response;
  };
  const tokenizer = BpeTokenizer.fromJSON(await (await fetched(`brown-${vocab}.tokenizer.json`)).json());
  const corpus = decodeCorpusBundle(
    new Uint8Array(await (await fetched(`brown-${vocab}.bin`)).arrayBuffer()),
  );
  const config = gptConfig(run.model.preset, { vocabSize: tokenizer.vocabSize });
  const batches = fixedBatches(corpus.val, {
    batchSize: run.batch,
    context: config.context,
    count: run.evalBatches,
    seed: run.seed,
  });
  const inference = await OrtInference.create(
    ort as unknown as OrtModule,
    buildInferenceGraph(config, params),
    config,
    {
      executionProviders: ['wasm'],
    },
  );
  let loss: number;
  try {
    ({ loss } = await inference.meanLoss(batches));
  } finally {
    await inference.release();
  }
  const { files } = modelFolderFiles({
    config,
    params,
    tokenizer: tokenizer.toJSON(),
    card: runModelCard(run, {
      step,
      source: { kind: 'average', peers: peers.length },
      peers: [...peers],
      loss,
    }),
  });
  const folder = `${run.id}-step-${step}`;
  const zip = zipSync(Object.fromEntries(files.map(([name, bytes]) => [`${folder}/${name}`, bytes])), {
    level: 6,
  });
  return { type: 'packaged' as const, zip, folder, valLoss: loss };
}
