// Builds the console into ../static (committed; served by api/console/http.py at /).
// Assets are served under /console/assets/; each one that shrinks gets a .gz beside it.
// static/LICENSES.txt gathers the licences of the packages bundled in.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defineConfig } from 'vite';

const out = new URL('../static', import.meta.url).pathname;

const BUNDLED = Object.keys(JSON.parse(readFileSync(new URL('package.json', import.meta.url))).dependencies);

function licences() {
  const parts = BUNDLED.map((name) => {
    const dir = new URL(`node_modules/${name}/`, import.meta.url).pathname;
    const { version } = JSON.parse(readFileSync(join(dir, 'package.json')));
    const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    return `${name} ${version}\n\n${readFileSync(join(dir, file), 'utf8').trim()}\n`;
  });
  writeFileSync(join(out, 'LICENSES.txt'), parts.join('\n' + '-'.repeat(72) + '\n\n'));
}

function gzipAssets() {
  return {
    name: 'twinql-gzip-assets',
    apply: 'build',
    closeBundle() {
      licences();
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
