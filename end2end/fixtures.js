// Test data made the way operators make it: with the ipp-portal command line, on the
// database of the server under test.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import AxeBuilder from '@axe-core/playwright';
import { test as base, expect } from '@playwright/test';
import { binary } from './server.js';

export const PASSWORD = 'correct horse battery';

function ippPortal(args, input) {
  const out = execFileSync(binary, args, {
    env: { ...process.env, DATABASE_URL: process.env.IPP_DATABASE_URL, RUST_LOG: 'warn' },
    input: input ?? '',
    encoding: 'utf8',
  });
  return JSON.parse(out.trim());
}

/** A fresh merchant with one location, per test, so tests never see each other's data. */
export function createMerchant(name = 'E2E Coffee') {
  const merchant = ippPortal(['merchant', 'create', '--name', name]);
  const location = ippPortal(['location', 'create', '--merchant', merchant.id, '--name', 'Main Street', '--city', 'Malmö']);
  const tag = randomUUID().slice(0, 8);
  return {
    id: merchant.id,
    locationId: location.id,
    addLocation(locationName) {
      return ippPortal(['location', 'create', '--merchant', merchant.id, '--name', locationName]).id;
    },
    addUser(role, locations = []) {
      const email = `${role.replace('_', '-')}-${tag}-${randomUUID().slice(0, 4)}@e2e.example`;
      const args = ['user', 'create', '--merchant', merchant.id, '--email', email, '--role', role.replace('_', '-'), '--password-stdin'];
      for (const location of locations) args.push('--location', location);
      ippPortal(args, PASSWORD);
      return email;
    },
    apiKey() {
      return ippPortal(['api-key', 'create', '--merchant', merchant.id, '--name', 'e2e']).key;
    },
  };
}

/** Calls the Device API as a merchant system does. */
export async function api(request, key, method, path, body) {
  const response = await request.fetch(path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    data: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status(), body: response.status() === 204 ? null : await response.json() };
}

/** Waits until the page runs on WASM (the hydrate entry point marks the body). */
export async function hydrated(page) {
  await page.locator('body[data-hydrated="true"]').waitFor({ timeout: 20_000 });
}

/** Fills in and sends the login form, whatever the outcome. */
export async function attemptSignIn(page, email, password = PASSWORD) {
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Signs in and waits until the portal has let the user in. */
export async function signIn(page, email, password = PASSWORD) {
  await attemptSignIn(page, email, password);
  await page.waitForURL((url) => url.pathname !== '/login');
}

/**
 * Fails the test on any console error, uncaught exception, server error or missing file.
 * Answers like 401 for a wrong password are the API speaking, not problems; Chromium logs
 * them to the console all the same, so those lines are judged by their response instead.
 */
export const test = base.extend({
  page: async ({ page }, use) => {
    const problems = [];
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        problems.push(message.text());
      }
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('response', (response) => {
      const status = response.status();
      if (status >= 500 || (status === 404 && !response.url().includes('/ipp/v1/'))) {
        problems.push(`${status} ${response.url()}`);
      }
    });
    await use(page);
    expect(problems, 'console errors').toEqual([]);
  },
});

export { expect };

/**
 * Reads the QR code drawn in `selector` (an inline SVG) the way a phone camera would.
 * The portal's Content-Security-Policy rightly refuses scripts injected into its pages, so
 * the drawing is copied to a blank page of the same browser and decoded there.
 */
export async function decodeQr(page, selector) {
  const require = createRequire(import.meta.url);
  const xml = await page
    .locator(`${selector} svg`)
    .evaluate((svg) => new XMLSerializer().serializeToString(svg));
  const scratch = await page.context().newPage();
  try {
    await scratch.addScriptTag({ path: require.resolve('jsqr/dist/jsQR.js') });
    return await scratch.evaluate(async (svg) => {
      const image = new Image();
      image.src = `data:image/svg+xml;base64,${btoa(svg)}`;
      await image.decode();
      const canvas = document.createElement('canvas');
      canvas.width = 400;
      canvas.height = 400;
      const context = canvas.getContext('2d');
      context.fillStyle = '#fff';
      context.fillRect(0, 0, 400, 400);
      context.drawImage(image, 0, 0, 400, 400);
      const pixels = context.getImageData(0, 0, 400, 400);
      return window.jsQR(pixels.data, 400, 400)?.data ?? null;
    }, xml);
  } finally {
    await scratch.close();
  }
}

/** No serious or critical accessibility violations on the page as it is now. */
export async function expectAccessible(page) {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  expect(serious).toEqual([]);
}
