#!/usr/bin/env node
// Installs what `npm start` / `npm test` need on a fresh clone, using only Node's built-ins (nothing else
// is installed yet when this runs). `--browser` also makes sure a Chromium for the browser tests exists.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (command, args) => execFileSync(command, args, { cwd: root, stdio: 'inherit' });

function ensureNodeModules() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  const stale = !existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs + 1000);
  if (!stale) return;
  console.log('[setup] installing npm packages (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

export function findChromium() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  return candidates.find((path) => path && existsSync(path));
}

function ensureChromium() {
  if (findChromium()) return;
  const debian = existsSync('/etc/debian_version');
  const root_ = typeof process.getuid === 'function' && process.getuid() === 0;
  if (debian && root_) {
    console.log('[setup] Chromium is missing: installing Debian\'s chromium package…');
    run('apt-get', ['update', '-qq']);
    execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { cwd: root, stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (findChromium()) return;
  }
  console.error([
    '[setup] The browser tests need Chromium with WebGPU and none was found.',
    '  Debian/Ubuntu:  sudo apt-get install -y chromium   (then run npm test again)',
    '  Elsewhere:      set CHROMIUM_PATH=/path/to/chrome-or-chromium',
    '  Checked: $CHROMIUM_PATH, /usr/bin/chromium, /usr/bin/chromium-browser, /usr/bin/google-chrome',
  ].join('\n'));
  process.exit(1);
}

// Fail early with a clear message rather than deep inside vite on an old Node.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`Node ${process.versions.node} is too old: Vite needs Node 20.19 or newer.`);
  process.exit(1);
}
ensureNodeModules();
if (process.argv.includes('--browser')) ensureChromium();
