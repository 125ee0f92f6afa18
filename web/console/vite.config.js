// Builds the self-hosted GraphiQL console into the Python package's static dir.
// File names are fixed (no content hash) because the Python side links them
// directly and appends its own ?v=<digest> for cache busting.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const outDir = fileURLToPath(new URL('../../src/rujuk/console/static', import.meta.url));

export default defineConfig({
  plugins: [react()],
  // Relative base: assets resolve against the bundle's own URL, so the Python
  // side may mount the static dir anywhere.
  base: './',
  logLevel: 'warn',
  build: {
    outDir,
    emptyOutDir: true,
    // Inline fonts and images into the CSS so only the bundle files are fetched.
    assetsInlineLimit: 1024 * 1024,
    chunkSizeWarningLimit: 8192,
    cssCodeSplit: false,
    sourcemap: false,
    rolldownOptions: {
      input: fileURLToPath(new URL('./src/main.jsx', import.meta.url)),
      output: {
        entryFileNames: 'console.js',
        chunkFileNames: 'console-[name].js',
        assetFileNames: 'console[extname]',
        // One JS file: dynamic imports (e.g. prettier plugins) stay in the bundle.
        codeSplitting: false,
      },
      onwarn(warning, warn) {
        // React-compiler output in @graphiql carries "use no memo" directives
        // that bundling drops; harmless, and noisy on every build.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  worker: {
    format: 'es',
    rolldownOptions: {
      output: {
        entryFileNames: 'workers/[name].js',
        chunkFileNames: 'workers/[name].js',
      },
    },
  },
});
