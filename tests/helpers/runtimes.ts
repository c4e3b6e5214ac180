/** The onnxruntime flavours that run in Node: every graph test runs on each. */

import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import type { OrtModule } from '../../client/src/engine/ort-engine';

// Single-threaded wasm keeps the web flavour deterministic and its timing comparable on 2-core machines.
ortWeb.env.wasm.numThreads = 1;

export interface Runtime {
  readonly name: string;
  readonly ort: OrtModule;
}

export const RUNTIMES: readonly Runtime[] = [
  { name: 'onnxruntime-node', ort: ortNode as unknown as OrtModule },
  { name: 'onnxruntime-web (wasm)', ort: ortWeb as unknown as OrtModule },
];
