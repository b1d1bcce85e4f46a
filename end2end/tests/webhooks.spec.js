import { createServer } from 'node:http';
import { test, expect, createMerchant, signIn, api, expectAccessible, PASSWORD } from '../fixtures.js';

/// A receiver on this machine that answers 200 and keeps what it was sent.
async function startReceiver() {
  const received = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => {
      received.push({ headers: request.headers, body: JSON.parse(body) });
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('thanks');
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${server.address().port}/hooks`;
  return { url, received, close: () => new Promise((ok) => server.close(ok)) };
}

test('add an endpoint, send a test event, see it in the delivery log, resend it', async ({ page }) => {
  const receiver = await startReceiver();
  try {
    const merchant = createMerchant('Hook Bakery');
    const admin = merchant.addUser('admin');
    await signIn(page, admin);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await expect(page.getByRole('heading', { name: 'Webhooks', exact: true })).toBeVisible();
    await expect(page.getByText('No endpoints yet')).toBeVisible();

    await page.getByLabel('URL (https)').fill(receiver.url);
    await page.getByLabel('Description (optional)').fill('ERP');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await expect(page.getByRole('heading', { name: receiver.url })).toBeVisible();
    // A new endpoint shows its secret at once, to copy.
    const secret = (await page.getByTestId('webhook-secret').textContent()).trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{32,}$/);
    await expectAccessible(page);

    await page.getByRole('button', { name: 'Send test event' }).click();
    await expect.poll(() => receiver.received.length, { timeout: 15_000 }).toBe(1);
    const first = receiver.received[0];
    expect(first.body.type).toBe('ipp.webhook.test');
    expect(first.headers['webhook-signature']).toMatch(/^v1,/);

    // The log shows it delivered (the worker records the answer just after sending).
    const log = page.getByTestId('delivery-log');
    await expect(async () => {
      await page.reload();
      await expect(log).toContainText('Delivered', { timeout: 1_000 });
    }).toPass({ timeout: 15_000 });
    await expect(log).toContainText('ipp.webhook.test');
    await expect(log).toContainText(first.headers['webhook-id']);
    await expect(log).toContainText('200');

    await log.getByRole('button', { name: 'Resend' }).click();
    await expect.poll(() => receiver.received.length, { timeout: 15_000 }).toBe(2);
    // The same event, under the same webhook-id.
    expect(receiver.received[1].headers['webhook-id']).toBe(first.headers['webhook-id']);

    await page.goto('/webhooks');
    await expect(page.getByTestId('webhook-endpoints')).toContainText(receiver.url);
    await expect(page.getByTestId('webhook-endpoints')).toContainText('Enabled');
  } finally {
    await receiver.close();
  }
});

test('an endpoint\'s URL, description and events are changed in the portal', async ({ page }) => {
  const first = await startReceiver();
  const second = await startReceiver();
  try {
    const merchant = createMerchant('Hook Florist');
    await signIn(page, merchant.addUser('admin'));
    await page.goto('/webhooks');
    await page.getByLabel('URL (https)').fill(first.url);
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await expect(page.getByRole('heading', { name: first.url })).toBeVisible();

    // "Only these" with nothing ticked is refused beside the events, the form as sent.
    const change = page.locator('section', { has: page.getByRole('heading', { name: 'Change' }) });
    await change.getByLabel('URL (https)').fill(second.url);
    await change.getByLabel('Description (optional)').fill('Till dashboard');
    await change.getByLabel('Only these:').check();
    await change.getByRole('button', { name: 'Save changes' }).click();
    await expect(page.locator('#events-error')).toContainText('events');
    await expect(change.getByLabel('URL (https)')).toHaveValue(second.url);
    await expect(change.getByLabel('Only these:')).toBeChecked();
    await expect(page.getByRole('heading', { name: first.url })).toBeVisible();

    await change.getByLabel('ipp.device.registered').check();
    await change.getByRole('button', { name: 'Save changes' }).click();
    await expect(page.getByRole('heading', { name: second.url })).toBeVisible();
    const facts = page.locator('dl.facts');
    await expect(facts).toContainText('Till dashboard');
    await expect(facts).toContainText('ipp.device.registered');
    await expect(change.getByLabel('Only these:')).toBeChecked();
    await expect(change.getByLabel('ipp.device.registered')).toBeChecked();

    // The test event goes to the new URL.
    await page.getByRole('button', { name: 'Send test event' }).click();
    await expect.poll(() => second.received.length, { timeout: 15_000 }).toBe(1);
    expect(first.received).toHaveLength(0);
    await expectAccessible(page);
  } finally {
    await first.close();
    await second.close();
  }
});

test('a disabled endpoint offers no test event and no resend, and says why', async ({ page, request }) => {
  const merchant = createMerchant('Hook Tailor');
  const key = merchant.apiKey();
  const endpoint = await api(request, key, 'POST', '/ipp/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/hooks' });
  const tested = await api(request, key, 'POST', `/ipp/v1/webhook-endpoints/${endpoint.body.id}/test`);
  expect(tested.status).toBe(202);
  await signIn(page, merchant.addUser('admin'));
  await page.goto(`/webhooks/${endpoint.body.id}`);
  await expect(page.getByRole('button', { name: 'Send test event' })).toBeVisible();
  await expect(page.getByTestId('delivery-log').getByRole('button', { name: 'Resend' })).toHaveCount(1);

  await page.getByRole('button', { name: 'Disable endpoint' }).click();
  await expect(page.getByRole('button', { name: 'Enable endpoint' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Send test event' })).toHaveCount(0);
  await expect(page.getByTestId('delivery-log').getByRole('button', { name: 'Resend' })).toHaveCount(0);
  await expect(page.getByTestId('disabled-reason')).toContainText('enable it below');
  await expect(page.locator('.badge.warn, .badge').filter({ hasText: 'Disabled' }).first()).toBeVisible();

  await page.getByRole('button', { name: 'Enable endpoint' }).click();
  await expect(page.getByRole('button', { name: 'Send test event' })).toBeVisible();
});

test.describe('with JavaScript disabled', () => {
  test.use({ javaScriptEnabled: false });

  test('an endpoint is added and its secret revealed with plain forms', async ({ page }) => {
    const merchant = createMerchant('Hook Shop');
    const admin = merchant.addUser('admin');
    await page.goto('/webhooks');
    await page.getByLabel('Email').fill(admin);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page).toHaveURL(/\/webhooks$/);
    await page.getByLabel('URL (https)').fill('http://127.0.0.1:9/hooks');
    // Two chosen events instead of all.
    await expect(page.getByLabel('All events, including those added later')).toBeChecked();
    await page.getByLabel('Only these:').check();
    await page.getByLabel('ipp.device.registered').check();
    await page.getByLabel('ipp.device.deregistered').check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await expect(page.getByTestId('webhook-secret')).toHaveText(/^whsec_/);
    await expect(page.locator('dl.facts').getByText('ipp.device.deregistered')).toBeVisible();
    // Shown once per request: a reload hides it again, and "Reveal secret" shows it.
    await page.reload();
    await expect(page.getByTestId('webhook-secret')).toHaveCount(0);
    await page.getByRole('button', { name: 'Reveal secret' }).click();
    await expect(page.getByTestId('webhook-secret')).toHaveText(/^whsec_/);
  });
});
