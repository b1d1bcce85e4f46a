import { test, expect, createMerchant, signIn, hydrated } from '../fixtures.js';

/**
 * Collects what the browser says about the Content-Security-Policy: console messages
 * and `securitypolicyviolation` events, from every page the tab loads.
 */
async function watchPolicy(page) {
  const violations = [];
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) violations.push(message.text());
  });
  await page.exposeFunction('reportPolicyViolation', (text) => violations.push(text));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      window.reportPolicyViolation(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
    });
  });
  return violations;
}

test('the portal hydrates under its Content-Security-Policy, without a violation', async ({ page }) => {
  const violations = await watchPolicy(page);
  const merchant = createMerchant('Policy Roasters');
  const email = merchant.addUser('admin');

  const login = await page.goto('/login');
  const policy = login.headers()['content-security-policy'];
  expect(policy).toContain("script-src 'self' 'nonce-");
  expect(policy).not.toContain('unsafe-inline');
  await hydrated(page);
  // Show/hide password is an island: it answers only once hydrated.
  const password = page.getByLabel('Password', { exact: true });
  await expect(password).toHaveAttribute('type', 'password');
  await page.getByRole('button', { name: 'Show', exact: true }).click();
  await expect(password).toHaveAttribute('type', 'text');

  await signIn(page, email);
  await expect(page.getByRole('heading', { name: 'Policy Roasters' })).toBeVisible();
  await page.getByRole('link', { name: 'Pairing codes', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Pairing codes', exact: true })).toBeVisible();
  await hydrated(page);
  // The metadata rows are an island too.
  await page.getByRole('button', { name: 'Add metadata' }).click();
  await expect(page.locator('#mk-3')).toBeVisible();
  await page.getByRole('button', { name: 'Create pairing code' }).click();
  await expect(page).toHaveURL(/\/enrollments\/[0-9a-f-]{36}$/);
  await hydrated(page);
  await expect(page.getByTestId('countdown')).toHaveText(/min$/);

  expect(violations).toEqual([]);
});
