#!/usr/bin/env node
// Builds the dashboard into OUT: index.html, favicon.svg, licenses.txt and
// content-hashed bundles under assets/ (JavaScript and CSS, uPlot included).
// Source maps only with VITALS_WEB_SOURCEMAPS=1: they carry this machine's
// paths and the whole sources, and would be installed and served with the
// rest. Dependencies come from package-lock.json through `npm ci`, run in
// DEPS (default: this folder) only when the lock file changed.
//
//   node build.mjs --out DIR [--deps DIR]
import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import {createRequire} from 'node:module';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const args = {out: null, deps: here};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') args.out = argv[++i];
    else if (argv[i] === '--deps') args.deps = argv[++i];
    else fail(`unknown argument ${argv[i]} (usage: build.mjs --out DIR [--deps DIR])`);
  }
  if (!args.out) fail('--out DIR is required');
  args.out = path.resolve(args.out);
  args.deps = path.resolve(args.deps);
  return args;
}

function fail(message) {
  console.error(`web/build.mjs: ${message}`);
  process.exit(1);
}

// `npm ci` in deps unless it already holds exactly this lock file's packages.
function installDependencies(deps) {
  const lock = fs.readFileSync(path.join(here, 'package-lock.json'), 'utf8');
  const stamp = path.join(deps, 'node_modules', '.vitals-lock');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === lock) return;
  fs.mkdirSync(deps, {recursive: true});
  if (deps !== here) {
    for (const file of ['package.json', 'package-lock.json', '.npmrc'])
      fs.copyFileSync(path.join(here, file), path.join(deps, file));
  }
  // No package's install scripts run: esbuild finds its binary through its
  // platform package, and nothing else has any.
  const npm = spawnSync('npm', ['ci', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: deps,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (npm.error) fail(`cannot run npm: ${npm.error.message}`);
  if (npm.status !== 0) fail(`npm ci failed in ${deps} (exit ${npm.status})`);
  fs.writeFileSync(stamp, lock);
}

async function bundle(deps, out) {
  const esbuild = createRequire(path.join(deps, 'package.json'))('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(here, 'src', 'main.js')],
    outdir: path.join(out, 'assets'),
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    target: ['es2020'],
    minify: true,
    sourcemap: process.env.VITALS_WEB_SOURCEMAPS === '1' ? 'linked' : false,
    sourcesContent: true,
    legalComments: 'none',  // licenses.txt carries them
    nodePaths: [path.join(deps, 'node_modules')],
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => path.resolve(p));
  const pick = (ext) => {
    const found = outputs.filter((p) => p.endsWith(ext));
    if (found.length !== 1) fail(`expected one ${ext} bundle, got ${found.length}`);
    return '/dashboard/' + path.relative(out, found[0]).split(path.sep).join('/');
  };
  return {js: pick('.js'), css: pick('.css')};
}

// The license texts of the packages bundled into the page (the runtime
// dependencies), served beside it.
function licenses(deps) {
  const {dependencies = {}} = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'));
  const parts = ['Third-party software in the Vitals dashboard bundle.\n'];
  for (const name of Object.keys(dependencies).sort()) {
    const dir = path.join(deps, 'node_modules', name);
    const {version, license} = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const file = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    if (!file) fail(`${name} has no license file`);
    parts.push(`\n${'='.repeat(72)}\n${name} ${version} (${license})\n${'='.repeat(72)}\n\n`);
    parts.push(fs.readFileSync(path.join(dir, file), 'utf8'));
  }
  return parts.join('');
}

async function main() {
  const {out, deps} = parseArgs(process.argv.slice(2));
  installDependencies(deps);
  // Built aside and swapped in whole: a failed build leaves no half folder,
  // and no stale hashed file survives a rebuild.
  const partial = `${out}.partial`;
  fs.rmSync(partial, {recursive: true, force: true});
  fs.mkdirSync(partial, {recursive: true});
  const assets = await bundle(deps, partial);
  const template = fs.readFileSync(path.join(here, 'src', 'index.html'), 'utf8');
  const html = template.replace('%APP_JS%', assets.js).replace('%APP_CSS%', assets.css);
  fs.writeFileSync(path.join(partial, 'index.html'), html);
  fs.copyFileSync(path.join(here, 'src', 'favicon.svg'), path.join(partial, 'favicon.svg'));
  fs.writeFileSync(path.join(partial, 'licenses.txt'), licenses(deps));
  fs.rmSync(out, {recursive: true, force: true});
  fs.renameSync(partial, out);
}

main().catch((e) => fail(e.stack || String(e)));
