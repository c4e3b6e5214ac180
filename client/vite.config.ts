/**
 * The browser client: two pages (the join page, which runs a peer in a Web Worker, and the run overview)
 * built by `npm run build:web` into client/dist, which the signaling server serves.
 */
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';

const web = (path: string) => fileURLToPath(new URL(`./src/web/${path}`, import.meta.url));

export default defineConfig({
  root: web(''),
  base: '/',
  publicDir: false,
  resolve: {
    // onnxruntime-web without its wasm loader inlined: the build script copies the loader and the wasm
    // module to dist/ort, and the worker loads them from there. Its wasm threads then run that small
    // loader rather than the worker's whole bundle.
    conditions: [...defaultClientConditions, 'onnxruntime-web-use-extern-wasm'],
  },
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2048,
    rollupOptions: { input: { join: web('join.html'), run: web('run.html') } },
  },
  worker: { format: 'es' },
});
