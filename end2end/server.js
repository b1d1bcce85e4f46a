// Starts the portal once for the test run: builds it with scripts/build-site.sh (the build
// `make run` uses; seconds when nothing changed), then runs the debug build on a free port
// with a fresh SQLite database, and waits until it answers.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repoRoot = resolve(import.meta.dirname, '..');
export const binary = join(repoRoot, 'target', 'debug', 'ipp-portal');

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

async function waitUntilServing(url, child, seconds) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the server did not answer at ${url} within ${seconds} s`);
}

export default async function globalSetup() {
  execFileSync('bash', [join(repoRoot, 'scripts', 'build-site.sh')], { cwd: repoRoot, stdio: 'inherit' });
  const dataDir = mkdtempSync(join(tmpdir(), 'ipp-portal-e2e-'));
  const databaseUrl = `sqlite://${join(dataDir, 'e2e.db')}`;
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  // Browsers refuse passkeys at an IP address: the portal's public URL names the host
  // `localhost` (the passkey tests browse there), the other tests keep the address.
  const localUrl = `http://localhost:${port}`;
  const child = spawn(binary, ['serve', '--addr', `127.0.0.1:${port}`, '--database-url', databaseUrl,
    '--public-url', localUrl,
    // The webhook tests' receiver listens on this machine.
    '--allow-private-webhook-targets'], {
    cwd: repoRoot,
    env: { ...process.env, LEPTOS_SITE_ROOT: 'target/site', RUST_LOG: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitUntilServing(`${baseUrl}/ipp/v1/openapi.json`, child, 60);
  process.env.IPP_BASE_URL = baseUrl;
  process.env.IPP_LOCAL_URL = localUrl;
  process.env.IPP_DATABASE_URL = databaseUrl;
  return async () => {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    rmSync(dataDir, { recursive: true, force: true });
  };
}
