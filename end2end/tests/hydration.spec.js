import { test, expect } from '@playwright/test';

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the server renders the pairing page in full', async ({ page }) => {
    const response = await page.goto('/pair?code=bcdf-ghjk');
    expect(response.status()).toBe(200);
    await expect(page.getByRole('heading', { name: 'Pair a payment terminal' })).toBeVisible();
    await expect(page.getByTestId('code-check')).toHaveText('Valid code: BCDF-GHJK');
  });

  test('a page behind sign-in leads to the login form', async ({ page }) => {
    const response = await page.goto('/users');
    expect(response.status()).toBe(200);
    await expect(page).toHaveURL(/\/login\?next=%2Fusers$/);
    await expect(page.getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
  });
});

test('the page hydrates and answers typing from WebAssembly, with no console errors', async ({ page }) => {
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));

  // The WebAssembly is held back until the clerk has typed, as on a slow phone network:
  // what is typed before hydration must be kept, and checked once the page hydrates.
  let releaseWasm;
  const wasmHeld = new Promise((resolve) => { releaseWasm = resolve; });
  await page.route(/\.wasm$/, async (route) => {
    await wasmHeld;
    await route.continue();
  });

  await page.goto('/pair', { waitUntil: 'domcontentloaded' });
  const input = page.getByLabel('Pairing code');
  const check = page.getByTestId('code-check');
  await input.pressSequentially('bcdf ghj');
  // Nothing answers typing yet: the check is still the server's.
  await expect(check).toHaveText('the pairing code is empty');

  releaseWasm();
  await expect(check).toHaveText('a pairing code has 8 or 16 letters', { timeout: 20_000 });
  await expect(input).toHaveValue('bcdf ghj');

  await input.pressSequentially('k');
  await expect(check).toHaveText('Valid code: BCDF-GHJK');
  await input.pressSequentially('1');
  await expect(check).toContainText('uses only the letters');
  expect(problems).toEqual([]);
});

test('a scanned QR link shows its code, read from the fragment in the browser', async ({ page }) => {
  const requested = [];
  page.on('request', (request) => requested.push(`${request.url()} ${request.postData() ?? ''}`));
  await page.goto('/pair#code=bcdf-ghjk');
  await expect(page.getByTestId('code-check')).toHaveText('Valid code: BCDF-GHJK', { timeout: 20_000 });
  await expect(page.getByLabel('Pairing code')).toHaveValue('bcdf-ghjk');
  // Nothing the page asked of the server carried the code, in its address or its body.
  expect(requested.length).toBeGreaterThan(0);
  expect(requested.filter((sent) => sent.toLowerCase().includes('bcdf'))).toEqual([]);
});
