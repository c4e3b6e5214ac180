/**
 * The browser client: two pages (the join page, which runs a peer in a Web Worker, and the run overview)
 * built by `npm run build:web` into client/dist, which the signaling server serves.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const web = (path: string) => fileURLToPath(new URL(`./src/web/${path}`, import.meta.url));

export default defineConfig({
  root: web(''),
  base: '/',
  // onnxruntime-web's wasm files are copied to dist/ort by the build script and loaded from there.
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2048,
    rollupOptions: { input: { join: web('join.html'), run: web('run.html') } },
  },
  worker: { format: 'es' },
});
