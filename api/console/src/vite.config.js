// Builds the console into ../static (committed; served by api/console/http.py at /).
// Assets are served under /console/assets/; each one that shrinks gets a .gz beside it.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defineConfig } from 'vite';

const out = new URL('../static', import.meta.url).pathname;

function gzipAssets() {
  return {
    name: 'twinql-gzip-assets',
    apply: 'build',
    closeBundle() {
      const dir = join(out, 'assets');
      for (const name of readdirSync(dir)) {
        if (!/\.(js|css|svg)$/.test(name)) continue;
        const raw = readFileSync(join(dir, name));
        const packed = gzipSync(raw, { level: 9 });
        if (packed.length < raw.length * 0.9) writeFileSync(join(dir, name + '.gz'), packed);
      }
    },
  };
}

export default defineConfig({
  root: new URL('.', import.meta.url).pathname,
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: out,
    emptyOutDir: true,
    target: 'es2020',
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  plugins: [gzipAssets()],
});
