import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';
import { demoHubPlugin } from './scripts/vite-demo-hub.ts';

// `base: './'` makes every asset URL relative, so `dist/` works from any static host and any path.
export default defineConfig({
  base: './',
  plugins: [svelte(), demoHubPlugin()],
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
  // onnxruntime-web ships pre-bundled ESM with its own wasm loader; pre-bundling it again breaks that.
  optimizeDeps: { exclude: ['onnxruntime-web', '@huggingface/transformers'] },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
