import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, type Plugin } from 'vite';
import { demoHubPlugin } from './scripts/vite-demo-hub.ts';
import { policyBootstrap } from './src/ui/content-security-policy.ts';

const POLICY_MARKER = /<!-- content-security-policy\b[^>]*-->/;

/**
 * Replaces index.html's marker with the inline script that writes the page's Content-Security-Policy
 * (src/ui/content-security-policy.ts). The dev server's policy also allows inline styles (Vite injects
 * CSS as <style> elements). A page without the marker fails the build rather than ship without a policy.
 */
function contentSecurityPolicyPlugin(): Plugin {
  return {
    name: 'autointerp-content-security-policy',
    transformIndexHtml(html, context) {
      if (!POLICY_MARKER.test(html)) throw new Error('index.html lacks its <!-- content-security-policy --> marker, where the policy goes.');
      return html.replace(POLICY_MARKER, () => `<script>${policyBootstrap({ dev: !!context.server })}</script>`);
    },
  };
}

// `base: './'` makes every asset URL relative, so `dist/` works from any static host and any path.
export default defineConfig({
  base: './',
  plugins: [contentSecurityPolicyPlugin(), svelte(), demoHubPlugin()],
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
  // onnxruntime-web ships pre-bundled ESM with its own wasm loader; pre-bundling it again breaks that.
  optimizeDeps: { exclude: ['onnxruntime-web', '@huggingface/transformers'] },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
