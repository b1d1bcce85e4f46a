// How the portal looks and reads: every page fits a 360 px phone and a 1280 px desk, the
// header is one row on a desk and a menu on a phone (with and without JavaScript), axe
// finds nothing serious in light or dark, and times read in the viewer's own zone.
// Screenshots of each page at both widths land in test-results/ (not committed).
import { test, expect, createMerchant, signIn, api, expectAccessible, PASSWORD } from '../fixtures.js';

/** Registers a device through the API as a merchant system and the POS app would. */
async function registerDevice(request, key, name, location) {
  const created = await api(request, key, 'POST', '/ipp/v1/enrollments', {
    location_id: location,
    metadata: { store: 'harbour-01', lane: '2' },
  });
  expect(created.status).toBe(201);
  const registered = await request.post('/ipp/v1/devices/register', {
    data: { enrollment_code: created.body.enrollment_code, hardware_id: `hw-${name}`, platform: 'IOS', name },
  });
  expect(registered.status()).toBe(201);
  return (await registered.json()).device;
}

/** A merchant with a little of everything, an admin signed in, and every page's path. */
async function portalWithData(page, request) {
  const merchant = createMerchant('Look & Feel Café');
  const key = merchant.apiKey();
  const device = await registerDevice(request, key, 'Front till with a rather long name', merchant.locationId);
  await registerDevice(request, key, 'Back office tablet', merchant.locationId);
  const code = await api(request, key, 'POST', '/ipp/v1/enrollments', { location_id: merchant.locationId, expires_in: 1800 });
  expect(code.status).toBe(201);
  const admin = merchant.addUser('admin');
  await signIn(page, admin);
  // A sheet of codes, made as a store manager makes one.
  await page.goto('/enrollments/new-sheet');
  await page.getByLabel('How many codes (1 to 50)').fill('3');
  await page.getByRole('button', { name: 'Create and print sheet' }).click();
  await page.waitForURL(/\/enrollments\/sheet\//);
  const sheet = new URL(page.url()).pathname;
  const endpoint = await api(request, key, 'POST', '/ipp/v1/webhook-endpoints', {
    url: 'http://127.0.0.1:9/hooks/a-rather-long-path-that-has-to-wrap-on-a-phone',
    description: 'The ERP of the harbour stores, which wants to hear about every new till and every till taken away',
  });
  expect(endpoint.status).toBe(201);
  // A delivery in its log (to a port nobody listens on: it fails, and says why).
  const tested = await api(request, key, 'POST', `/ipp/v1/webhook-endpoints/${endpoint.body.id}/test`);
  expect(tested.status).toBe(202);
  return {
    admin,
    pages: {
      overview: '/',
      codes: '/enrollments',
      code: `/enrollments/${code.body.enrollment_id}`,
      'new-sheet': '/enrollments/new-sheet',
      sheet,
      devices: '/devices',
      device: `/devices/${device.id}`,
      locations: '/locations',
      audit: '/audit',
      users: '/users',
      'api-keys': '/api-keys',
      webhooks: '/webhooks',
      'webhook-endpoint': `/webhooks/${endpoint.body.id}`,
      account: '/account',
    },
  };
}

async function expectNoSidewaysScroll(page, what) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  expect(scrollWidth, `${what} scrolls sideways`).toBeLessThanOrEqual(innerWidth);
}

/** The header's visible parts share one row. */
async function expectHeaderInOneRow(page) {
  const rows = await page.locator('header.topbar').evaluate((header) => {
    const visible = [...header.children].filter((child) => child.getClientRects().length > 0);
    return visible.map((child) => {
      const box = child.getBoundingClientRect();
      return { top: box.top, bottom: box.bottom };
    });
  });
  expect(rows.length).toBeGreaterThanOrEqual(3);
  const top = Math.min(...rows.map((r) => r.top));
  const bottom = Math.max(...rows.map((r) => r.bottom));
  // One row of controls (2.5 rem) and nothing stacked below it.
  expect(bottom - top).toBeLessThanOrEqual(48);
}

for (const width of [360, 1280]) {
  test(`every page fits ${width} px, reads well in light and dark, with a screenshot of each`, async ({ page, request }, testInfo) => {
    test.setTimeout(180_000);
    await page.setViewportSize({ width, height: 800 });
    const { pages } = await portalWithData(page, request);
    for (const [name, path] of Object.entries(pages)) {
      await page.emulateMedia({ colorScheme: 'light' });
      await page.goto(path);
      await expect(page.locator('main h1')).toBeVisible();
      // The endpoint's page is checked with a row in its delivery log.
      if (name === 'webhook-endpoint') await expect(page.getByTestId('delivery-log')).toBeVisible();
      await expectNoSidewaysScroll(page, `${path} at ${width} px`);
      if (width >= 1024) await expectHeaderInOneRow(page);
      await expectAccessible(page);
      await page.screenshot({ path: testInfo.outputPath(`${name}-${width}-light.png`), fullPage: true });
      await page.emulateMedia({ colorScheme: 'dark' });
      await expectAccessible(page);
      await page.screenshot({ path: testInfo.outputPath(`${name}-${width}-dark.png`), fullPage: true });
    }
    // The pages before sign-in too.
    await page.context().clearCookies();
    for (const path of ['/login', '/login/verify', '/pair']) {
      await page.emulateMedia({ colorScheme: 'light' });
      await page.goto(path);
      await expectNoSidewaysScroll(page, `${path} at ${width} px`);
      await expectAccessible(page);
      await page.emulateMedia({ colorScheme: 'dark' });
      await expectAccessible(page);
      await page.screenshot({ path: testInfo.outputPath(`${path.slice(1)}-${width}-dark.png`), fullPage: true });
    }
  });
}

test('the header is one row from 1024 px up', async ({ page }) => {
  const merchant = createMerchant('A Merchant With Quite A Long Trading Name AB');
  await signIn(page, merchant.addUser('admin'));
  for (const width of [1024, 1280, 1920]) {
    await page.setViewportSize({ width, height: 800 });
    await page.goto('/devices');
    await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
    await expect(page.locator('details.menu')).toBeHidden();
    await expectHeaderInOneRow(page);
  }
  // The account menu opens to My account and Sign out.
  await page.locator('.account-menu > summary').click();
  await expect(page.getByRole('link', { name: 'My account' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
});

test('on a phone the navigation folds into a menu that opens', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  const merchant = createMerchant('Phone Shop');
  await signIn(page, merchant.addUser('ops'));
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeHidden();
  await page.getByText('Menu', { exact: true }).click();
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav).toBeVisible();
  await expectNoSidewaysScroll(page, 'the open menu');
  await nav.getByRole('link', { name: 'Devices', exact: true }).click();
  await expect(page).toHaveURL(/\/devices$/);
  await expect(page.getByRole('heading', { name: 'Devices', exact: true })).toBeVisible();
  await page.getByText('Menu', { exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
});

test.describe('with JavaScript disabled', () => {
  test.use({ javaScriptEnabled: false });

  test('the phone menu still opens, and every list still fits', async ({ page }) => {
    await page.setViewportSize({ width: 360, height: 740 });
    const merchant = createMerchant('No-Script Kiosk');
    const email = merchant.addUser('admin');
    await page.goto('/login');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page).toHaveURL(/\/$/);
    await page.getByText('Menu', { exact: true }).click();
    const nav = page.getByRole('navigation', { name: 'Main' });
    await expect(nav.getByRole('link', { name: 'Users', exact: true })).toBeVisible();
    await nav.getByRole('link', { name: 'Audit log', exact: true }).click();
    await expect(page.getByRole('heading', { name: 'Audit log' })).toBeVisible();
    await expectNoSidewaysScroll(page, 'the audit log without JavaScript');
  });
});

test.describe('in Tokyo', () => {
  test.use({ timezoneId: 'Asia/Tokyo' });

  test('a registration time is shown in the browser\'s zone, then in the zone chosen', async ({ page, request }) => {
    const merchant = createMerchant('Tokyo Terminals');
    const key = merchant.apiKey();
    const device = await registerDevice(request, key, 'Shibuya till', merchant.locationId);
    await signIn(page, merchant.addUser('ops'));
    await page.goto(`/devices/${device.id}`);
    const registered = page.locator('.facts time').first();
    await expect(registered).toHaveAttribute('datetime', device.created_at);
    const clock = (timeZone) => new Intl.DateTimeFormat('en-GB', {
      timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
    }).format(new Date(device.created_at));
    await expect(registered).toContainText(`${clock('Asia/Tokyo')} JST`);

    // My account says which zone, and another can be chosen.
    await page.goto('/account');
    await expect(page.getByTestId('time-zone')).toHaveText('Asia/Tokyo');
    await page.getByLabel('Show times in').selectOption('America/New_York');
    await page.getByRole('button', { name: 'Save time zone' }).click();
    await expect(page.getByRole('status')).toContainText('America/New_York');
    await page.goto(`/devices/${device.id}`);
    await expect(page.locator('.facts time').first()).toContainText(clock('America/New_York'));
    await expect(page.locator('.facts time').first()).toContainText(/E[SD]T/);
  });
});
