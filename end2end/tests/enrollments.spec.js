import { test, expect, createMerchant, signIn, hydrated, decodeQr, expectAccessible, PASSWORD } from '../fixtures.js';

test('create a code with metadata, read its QR, and see it used by a device', async ({ page, request }) => {
  const merchant = createMerchant('QR Roasters');
  await signIn(page, merchant.addUser('ops'));
  await page.getByRole('link', { name: 'Pairing codes', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Pairing codes', exact: true })).toBeVisible();
  await expectAccessible(page);

  // The link loaded a new page: adding metadata rows waits for its island to hydrate.
  await hydrated(page);
  await page.locator('#mk-0').fill('store');
  await page.locator('#mv-0').fill('malmo-01');
  await page.getByRole('button', { name: 'Add metadata' }).click();
  await page.locator('#mk-3').fill('till');
  await page.locator('#mv-3').fill('3');
  await page.getByLabel('Expires after').selectOption('24h');
  await page.getByRole('button', { name: 'Create pairing code' }).click();
  await expect(page).toHaveURL(/\/enrollments\/[0-9a-f-]{36}$/);

  const code = (await page.getByTestId('pairing-code').textContent()).trim();
  // A code that lives 24 hours is long: 16 letters in four groups.
  expect(code).toMatch(/^([BCDFGHJKLMNPQRSTVWXZ]{4}-){3}[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  // ... laid out to fit a phone held by the till, without scrolling sideways.
  const viewport = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  const fits = await page.getByTestId('pairing-code').evaluate(
    (el) => el.scrollWidth <= el.clientWidth && el.getBoundingClientRect().right <= window.innerWidth,
  );
  expect(fits).toBe(true);
  await page.setViewportSize(viewport);
  const payload = await page.getByTestId('qr').getAttribute('data-payload');
  // The code rides in the fragment, which the browser never sends to a server.
  expect(payload).toContain(`/pair#code=${code}`);
  expect(await decodeQr(page, '[data-testid="qr"]')).toBe(payload);
  await expect(page.getByTestId('countdown')).toHaveText(/^23 h 5\d min$/);
  await expect(page.locator('.pairing-card')).toContainText('malmo-01');
  await expectAccessible(page);

  // A clerk types the code into the POS app: the open page follows without a reload.
  const response = await request.post('/ipp/v1/devices/register', {
    data: { enrollment_code: code.toLowerCase(), hardware_id: 'e2e-till-3', platform: 'IOS', name: 'Till 3' },
  });
  expect(response.status()).toBe(201);
  const device = (await response.json()).device;
  expect(device.metadata).toEqual({ store: 'malmo-01', till: '3' });
  await expect(page.locator('[data-status="CONSUMED"]')).toBeVisible({ timeout: 10_000 });
  await expect(page.getByRole('link', { name: 'Till 3' })).toHaveAttribute('href', `/devices/${device.id}`);
});

test('the printed pairing card has the code and QR and no buttons', async ({ page }) => {
  const merchant = createMerchant();
  await signIn(page, merchant.addUser('ops'));
  await page.goto('/enrollments');
  await hydrated(page);
  await page.getByRole('button', { name: 'Create pairing code' }).click();
  await expect(page).toHaveURL(/\/enrollments\/[0-9a-f-]{36}$/);
  const code = (await page.getByTestId('pairing-code').textContent()).trim();

  await page.emulateMedia({ media: 'print' });
  await expect(page.getByTestId('pairing-code')).toBeVisible();
  await expect(page.getByTestId('pairing-code')).toHaveText(code);
  await expect(page.locator('[data-testid="qr"] svg')).toBeVisible();
  await expect(page.getByText('Open the POS app')).toBeVisible();
  for (const button of await page.getByRole('button').all()) {
    await expect(button).toBeHidden();
  }
  await expect(page.getByRole('navigation')).toBeHidden();
  await expect(page.getByTestId('countdown')).toBeHidden();
});

test('a store manager prints a sheet of 12 cards', async ({ page }) => {
  const merchant = createMerchant('Sheet Store');
  const kiosk = merchant.addLocation('New Kiosk');
  await signIn(page, merchant.addUser('store_manager', [kiosk]));
  await page.goto('/enrollments/new-sheet');
  await hydrated(page);
  await page.getByLabel('How many codes (1 to 50)').fill('12');
  await page.locator('#mk-0').fill('batch');
  await page.locator('#mv-0').fill('opening');
  await page.getByRole('button', { name: 'Create and print sheet' }).click();
  await expect(page).toHaveURL(/\/enrollments\/sheet\/[0-9a-f-]{36}$/);
  const cards = page.getByTestId('sheet-card');
  await expect(cards).toHaveCount(12);
  const codes = await page.locator('.sheet-card .big-code').allTextContents();
  expect(new Set(codes).size).toBe(12);
  await expect(cards.first()).toContainText('New Kiosk');
  await expectAccessible(page);
  await page.emulateMedia({ media: 'print' });
  await expect(cards.nth(11)).toBeVisible();
  await expect(page.getByRole('button', { name: 'Print sheet' })).toBeHidden();
});

test('a refused code comes back as typed, with the error next to the field', async ({ page }) => {
  const merchant = createMerchant('Typed Once');
  const second = merchant.addLocation('Second Store');
  await signIn(page, merchant.addUser('ops'));
  await page.goto('/enrollments');
  await hydrated(page);
  await page.locator('#location_id').selectOption(second);
  await page.getByLabel('Expires after').selectOption('custom');
  await page.getByLabel('Custom lifetime in minutes (1 to 4320)').fill('90');
  await page.locator('#mk-0').fill('store');
  await page.locator('#mv-0').fill('malmo-01');
  await page.locator('#mk-1').fill('bad key');
  await page.locator('#mv-1').fill('x');
  await page.getByRole('button', { name: 'Add metadata' }).click();
  await page.locator('#mk-3').fill('till');
  await page.locator('#mv-3').fill('3');
  await page.getByRole('button', { name: 'Create pairing code' }).click();

  await expect(page.locator('#metadata-error')).toContainText('letters, digits');
  await expect(page).toHaveURL(/\/enrollments\?/);
  await expect(page.locator('#location_id')).toHaveValue(second);
  await expect(page.getByLabel('Expires after')).toHaveValue('custom');
  await expect(page.getByLabel('Custom lifetime in minutes (1 to 4320)')).toHaveValue('90');
  // Every row as typed (the empty one dropped), in the island that adds and removes rows.
  await expect(page.locator('.metadata-row')).toHaveCount(3);
  const rows = [['store', 'malmo-01'], ['bad key', 'x'], ['till', '3']];
  for (const [index, [key, value]] of rows.entries()) {
    await expect(page.locator(`#mk-${index}`)).toHaveValue(key);
    await expect(page.locator(`#mv-${index}`)).toHaveValue(value);
  }
  await expectAccessible(page);

  // Only the bad field needs fixing; the restored rows are the island's own.
  await hydrated(page);
  await page.locator('#mk-1').fill('type');
  await page.getByRole('button', { name: 'Add metadata' }).click();
  await page.locator('#mk-3').fill('lane');
  await page.locator('#mv-3').fill('2');
  await page.getByRole('button', { name: 'Create pairing code' }).click();
  await expect(page).toHaveURL(/\/enrollments\/[0-9a-f-]{36}$/);
  const card = page.locator('.pairing-card');
  await expect(card).toContainText('Second Store');
  for (const text of ['malmo-01', 'type', 'till', 'lane']) await expect(card).toContainText(text);
  await expect(page.getByTestId('countdown')).toHaveText(/^1 h 29 min$/);
});

test('while a slow create is sent, its button is disabled and says so, and a double click sends once', async ({ page }) => {
  const merchant = createMerchant();
  await signIn(page, merchant.addUser('ops'));
  await page.goto('/enrollments');
  await hydrated(page);
  let posts = 0;
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await page.route('**/api/create_enrollment', async (route) => {
    posts += 1;
    await held;
    await route.continue();
  });

  // While the POST is held the old page stays on screen, but Playwright waits for the
  // navigation before it reads the page; the page reports on itself through the console.
  const reports = [];
  page.on('console', (message) => {
    if (message.text().startsWith('form:')) reports.push(message.text());
  });
  await page.evaluate(() => {
    const form = document.querySelector('form.create-enrollment');
    let first = true;
    form.addEventListener('submit', (event) => {
      const sent = !event.defaultPrevented;
      setTimeout(() => {
        const button = form.querySelector('button[type="submit"]');
        console.log(`form: sent=${sent} disabled=${button.disabled} label=${button.textContent}`);
        // A script sending the form again is held back too.
        if (first) form.requestSubmit();
        first = false;
        document.querySelector('#mk-0').focus();
      }, 100);
    });
  });
  await page.getByRole('button', { name: 'Create pairing code' }).dblclick();
  await expect.poll(() => reports).toEqual([
    'form: sent=true disabled=true label=Creating…',
    'form: sent=false disabled=true label=Creating…',
  ]);
  // Enter in a field sends nothing either: the form's default button is disabled.
  await page.keyboard.press('Enter');
  await page.waitForTimeout(500);
  expect(reports).toHaveLength(2);
  expect(posts).toBe(1);

  release();
  await expect(page).toHaveURL(/\/enrollments\/[0-9a-f-]{36}$/);
  expect(posts).toBe(1);
  // One code was made.
  await page.goto('/enrollments');
  await expect(page.locator('[data-status="PENDING"]')).toHaveCount(1);
});

test('cancelling removes a code from the list and keeps it in history', async ({ page }) => {
  const merchant = createMerchant();
  await signIn(page, merchant.addUser('ops'));
  await page.goto('/enrollments');
  await hydrated(page);
  await page.getByRole('button', { name: 'Create pairing code' }).click();
  await expect(page).toHaveURL(/\/enrollments\/[0-9a-f-]{36}$/);
  const code = (await page.getByTestId('pairing-code').textContent()).trim();

  await page.goto('/enrollments');
  const row = page.getByRole('row', { name: new RegExp(code) });
  await row.getByText('Cancel…').click();
  await row.getByRole('button', { name: 'Cancel code' }).click();
  await expect(page.getByRole('row', { name: new RegExp(code) })).toHaveCount(0);

  await page.getByLabel('Show').selectOption('history');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/view=history/);
  await expect(page.locator('[data-status="CANCELLED"]')).toHaveCount(1);
});

test.describe('with JavaScript disabled', () => {
  test.use({ javaScriptEnabled: false });

  test('create and cancel work with plain forms', async ({ page }) => {
    const merchant = createMerchant();
    merchant.addLocation('Second Store');
    const email = merchant.addUser('ops');
    await page.goto('/login');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.goto('/enrollments');

    await page.locator('#location_id').selectOption({ label: 'Second Store' });
    await page.locator('#mk-0').fill('bad key');
    await page.locator('#mv-0').fill('x');
    await page.getByRole('button', { name: 'Create pairing code' }).click();
    await expect(page.locator('#metadata-error')).toContainText('letters, digits');

    await page.locator('#location_id').selectOption({ label: 'Second Store' });
    await page.locator('#mk-0').fill('store');
    await page.locator('#mv-0').fill('two');
    await page.getByRole('button', { name: 'Create pairing code' }).click();
    await expect(page).toHaveURL(/\/enrollments\/[0-9a-f-]{36}$/);
    const code = (await page.getByTestId('pairing-code').textContent()).trim();

    await page.goto('/enrollments');
    const row = page.getByRole('row', { name: new RegExp(code) });
    await row.getByText('Cancel…').click();
    await row.getByRole('button', { name: 'Cancel code' }).click();
    await expect(page.getByRole('row', { name: new RegExp(code) })).toHaveCount(0);
  });
});
