/**
 * The Try box's sampler, in a worker of its own so that neither the page nor the peer's training waits
 * on it: the GPT's inference graph with a copy of the peer's parameters inside, on onnxruntime-web's wasm
 * (one thread: the cores are the training's), and the run's tokenizer. Each token's text is posted as it
 * is drawn.
 */
import { BpeTokenizer } from '@demuon/shared/data';
import { buildInferenceGraph, generate, IncrementalDecoder } from '@demuon/shared/model';
import * as ort from 'onnxruntime-web';
import type { OrtModule } from '../engine/ort-engine';
import { OrtInference } from '../engine/ort-inference';
import type { GenerationEvent, GenerationRequest } from './messages';

const scope = globalThis as unknown as {
  postMessage(message: GenerationEvent): void;
  onmessage: ((event: MessageEvent<GenerationRequest>) => void) | null;
};
const post = (event: GenerationEvent) => scope.postMessage(event);

// As the peer worker loads them (see create-engine.ts); set before the first session loads the module.
ort.env.wasm.wasmPaths = new URL('/ort/', self.location.href).href;
ort.env.wasm.numThreads = 1;

/** Tokenizers by URL: a run's never changes. */
const tokenizers = new Map<string, Promise<BpeTokenizer>>();

/** Requests run one after another: a new one waits for the one under way. */
let queue = Promise.resolve();

scope.onmessage = (event) => {
  const request = event.data;
  queue = queue.then(() =>
    sample(request).catch((error: unknown) =>
      post({ type: 'failed', id: request.id, message: (error as Error).message ?? String(error) }),
    ),
  );
};

async function sample({ id, snapshot, prompt, tokens, temperature, topK, seed }: GenerationRequest) {
  const started = performance.now();
  const tokenizer = await tokenizerAt(snapshot.tokenizerUrl);
  if (tokenizer.vocabSize !== snapshot.model.vocabSize)
    throw new Error(
      `the run's tokenizer has ${tokenizer.vocabSize} tokens, its model ${snapshot.model.vocabSize}`,
    );
  const graph = buildInferenceGraph(snapshot.model, snapshot.params);
  const inference = await OrtInference.create(ort as unknown as OrtModule, graph, snapshot.model, {
    executionProviders: ['wasm'],
  });
  try {
    const encoded = Array.from(tokenizer.encode(prompt));
    // Without a prompt the model starts where a document starts: after an end-of-text.
    const ids = encoded.length > 0 ? encoded : [tokenizer.endOfText];
    post({ type: 'started', id, promptTokens: encoded.length, setupMs: performance.now() - started });
    const decoder = new IncrementalDecoder((chunk) => tokenizer.decode(chunk));
    const sampling = performance.now();
    let count = 0;
    for await (const token of generate({
      logits: (window, position) => inference.logitsAt(window, position),
      prompt: ids,
      count: tokens,
      temperature,
      topK,
      seed,
      context: snapshot.model.context,
    })) {
      count++;
      post({ type: 'text', id, text: decoder.push(token), tokens: count });
    }
    const rest = decoder.flush();
    if (rest) post({ type: 'text', id, text: rest, tokens: count });
    post({ type: 'done', id, tokens: count, ms: performance.now() - sampling });
  } finally {
    await inference.release();
  }
}

function tokenizerAt(url: string): Promise<BpeTokenizer> {
  let tokenizer = tokenizers.get(url);
  if (!tokenizer) {
    tokenizer = fetch(url).then(async (response) => {
      if (!response.ok)
        throw new Error(
          `the server has no tokenizer at ${new URL(url).pathname} (HTTP ${response.status}): rebuild the client with npm run build:web`,
        );
      return BpeTokenizer.fromJSON(await response.json());
    });
    // A failed fetch is tried again next time.
    tokenizer.catch(() => tokenizers.delete(url));
    tokenizers.set(url, tokenizer);
  }
  return tokenizer;
}
