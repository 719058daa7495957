// Builds the web console (ui/) into dist/ui/: one minified ES module, one stylesheet, index.html and the icon.
// Plain JavaScript so that `npm run build` (and so `npm start`) needs nothing but esbuild. Served by src/console/.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Builds into `outdir` (default dist/ui) and returns the files written with their sizes. */
export async function buildUi(outdir = path.join(root, 'dist', 'ui')) {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: path.join(root, 'ui', 'src', 'main.tsx') },
    outdir,
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome111', 'firefox113', 'safari16.4'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  await copyFile(path.join(root, 'ui', 'index.html'), path.join(outdir, 'index.html'));
  await copyFile(path.join(root, 'ui', 'favicon.svg'), path.join(outdir, 'favicon.svg'));
  return Object.fromEntries(Object.entries(result.metafile.outputs).map(([f, o]) => [path.basename(f), o.bytes]));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await buildUi(process.argv[2]);
  console.log(`console built: ${Object.entries(files).map(([f, b]) => `${f} ${(b / 1024).toFixed(1)} KiB`).join(', ')}`);
}
