import { createServer } from 'node:http';
import { test, expect, createMerchant, signIn, expectAccessible, PASSWORD } from '../fixtures.js';

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

test.describe('with JavaScript disabled', () => {
  test.use({ javaScriptEnabled: false });

  test('an endpoint is added and its secret revealed with plain forms', async ({ page }) => {
    const merchant = createMerchant('Hook Shop');
    const admin = merchant.addUser('admin');
    await page.goto('/webhooks');
    await page.getByLabel('Email').fill(admin);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/webhooks$/);
    await page.getByLabel('URL (https)').fill('http://127.0.0.1:9/hooks');
    // Two chosen events instead of all.
    await page.getByLabel('All events, including those added later').uncheck();
    await page.getByLabel('ipp.device.registered').check();
    await page.getByLabel('ipp.device.deregistered').check();
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await expect(page.getByTestId('webhook-secret')).toHaveText(/^whsec_/);
    await expect(page.getByText('ipp.device.deregistered')).toBeVisible();
    // Shown once per request: a reload hides it again, and "Reveal secret" shows it.
    await page.reload();
    await expect(page.getByTestId('webhook-secret')).toHaveCount(0);
    await page.getByRole('button', { name: 'Reveal secret' }).click();
    await expect(page.getByTestId('webhook-secret')).toHaveText(/^whsec_/);
  });
});
