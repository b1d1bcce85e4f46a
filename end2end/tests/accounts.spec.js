import { test, expect, createMerchant, signIn, attemptSignIn, api, PASSWORD } from '../fixtures.js';

test('sign in, see the portal, sign out', async ({ page }) => {
  const merchant = createMerchant('Sign-in Bakery');
  const email = merchant.addUser('ops');
  await page.goto('/');
  await expect(page).toHaveURL(/\/login\?next=%2F$/);
  await signIn(page, email);
  await expect(page.getByRole('heading', { name: 'Sign-in Bakery' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Main' })).toContainText('Overview');
  // Ops do not manage users or keys: the navigation does not offer them.
  await expect(page.getByRole('link', { name: 'Users' })).toHaveCount(0);
  await page.locator('.account-menu > summary').click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto('/account');
  await expect(page).toHaveURL(/\/login\?next=%2Faccount/);
});

test('a wrong password is refused with a clear message', async ({ page }) => {
  const merchant = createMerchant();
  const email = merchant.addUser('ops');
  await attemptSignIn(page, email, 'not my password');
  await expect(page.getByRole('alert')).toHaveText('wrong email or password');
  await expect(page).toHaveURL(/\/login/);
  await attemptSignIn(page, 'nobody@e2e.example', PASSWORD);
  await expect(page.getByRole('alert')).toHaveText('wrong email or password');
});

test('a refused sign-in keeps the email but not the password', async ({ page }) => {
  const merchant = createMerchant();
  const email = merchant.addUser('ops');
  await attemptSignIn(page, email, 'not my password');
  await expect(page.getByRole('alert')).toHaveText('wrong email or password');
  await expect(page.getByLabel('Email')).toHaveValue(email);
  const password = page.getByLabel('Password', { exact: true });
  await expect(password).toHaveValue('');
  await expect(password).toBeFocused();
  await password.fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((url) => url.pathname !== '/login');
});

test.describe('with JavaScript disabled', () => {
  test.use({ javaScriptEnabled: false });

  test('signing in works with plain forms', async ({ page }) => {
    const merchant = createMerchant('No-Script Deli');
    const email = merchant.addUser('admin');
    await page.goto('/users');
    await expect(page).toHaveURL(/\/login\?next=%2Fusers/);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill('wrong password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page.getByRole('alert')).toContainText('wrong email or password');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page).toHaveURL(/\/users$/);
    await expect(page.getByRole('heading', { name: 'Users' })).toBeVisible();
    await expect(page.getByRole('cell', { name: `${email} (you)` })).toBeVisible();
  });
});

test('a store manager sees only their locations', async ({ page, request }) => {
  const merchant = createMerchant('Two Stores');
  const kiosk = merchant.addLocation('Harbour Kiosk');
  const key = merchant.apiKey();
  // One device at each location.
  for (const [location, hardware] of [[merchant.locationId, 'hw-main'], [kiosk, 'hw-kiosk']]) {
    const created = await api(request, key, 'POST', '/ipp/v1/enrollments', { location_id: location });
    expect(created.status).toBe(201);
    const registered = await request.post('/ipp/v1/devices/register', {
      data: { enrollment_code: created.body.enrollment_code, hardware_id: hardware, platform: 'ANDROID' },
    });
    expect(registered.status()).toBe(201);
  }
  const manager = merchant.addUser('store_manager', [kiosk]);
  await signIn(page, manager);
  const stats = page.locator('.stats');
  await expect(stats.getByRole('link', { name: '1 device', exact: true })).toBeVisible();
  // The count of their locations, not a link to a page they may not open.
  await expect(stats.getByText('1 location', { exact: true })).toBeVisible();
  await expect(stats.getByRole('link', { name: '1 location', exact: true })).toHaveCount(0);
  await page.goto('/users');
  await expect(page.getByRole('alert')).toContainText('does not give access');
});

test('an API key made in the portal works until it is revoked', async ({ page, request }) => {
  const merchant = createMerchant('Key Shop');
  const admin = merchant.addUser('admin');
  await signIn(page, admin);
  await page.getByRole('link', { name: 'API keys', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'API keys' })).toBeVisible();
  await page.getByLabel('Name (what the key is for)').fill('Warehouse ERP');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secret = (await page.getByTestId('new-api-key').textContent()).trim();
  expect(secret).toMatch(/^ipp_sk_[0-9a-f]{48}$/);

  const before = await api(request, secret, 'GET', '/ipp/v1/locations');
  expect(before.status).toBe(200);
  expect(before.body.content[0].id).toBe(merchant.locationId);

  const row = page.getByRole('row', { name: /Warehouse ERP/ });
  await row.getByText('Revoke…').click();
  await row.getByRole('button', { name: 'Revoke key' }).click();
  await expect(page.getByRole('row', { name: /Warehouse ERP/ })).toContainText('Revoked');
  const after = await api(request, secret, 'GET', '/ipp/v1/locations');
  expect(after.status).toBe(401);
});
