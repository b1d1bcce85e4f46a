import { test, expect, createMerchant, signIn, hydrated, api, expectAccessible, PASSWORD } from '../fixtures.js';

/** Enrolls a device through the API as a merchant system and the POS app would. */
async function enroll(request, key, { name, metadata, location, platform = 'ANDROID' }) {
  const created = await api(request, key, 'POST', '/ipp/v1/enrollments', { metadata, location_id: location });
  expect(created.status).toBe(201);
  const registered = await request.post('/ipp/v1/devices/register', {
    data: { enrollment_code: created.body.enrollment_code, hardware_id: `hw-${name}`, platform, name },
  });
  expect(registered.status()).toBe(201);
  return registered.json();
}

test('filter, rename, deregister, export and audit the fleet', async ({ page, request }) => {
  const merchant = createMerchant('Fleet Co');
  const kiosk = merchant.addLocation('Kiosk');
  const key = merchant.apiKey();
  const tillA = await enroll(request, key, { name: 'Till A', metadata: { store: 's1', lane: '1' }, location: merchant.locationId });
  await enroll(request, key, { name: 'Till B', metadata: { store: 's1', lane: '2' }, location: merchant.locationId, platform: 'IOS' });
  const kioskTill = await enroll(request, key, { name: 'Kiosk 1', metadata: { store: 's2' }, location: kiosk });
  const ops = merchant.addUser('ops');
  await signIn(page, ops);

  await page.getByRole('link', { name: 'Devices', exact: true }).click();
  await expect(page.getByTestId('device-count')).toHaveText('3 devices');
  await expectAccessible(page);

  // Filter by metadata and location: the URL carries the view, and back works.
  await page.getByLabel('Metadata (key:value)').fill('store:s1');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page).toHaveURL(/metadata=store%3As1/);
  await expect(page.getByTestId('device-count')).toHaveText('2 devices');
  await page.getByLabel('Location', { exact: true }).selectOption({ label: 'Kiosk' });
  await page.getByLabel('Metadata (key:value)').fill('');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('device-count')).toHaveText('1 device');
  await expect(page.getByRole('link', { name: 'Kiosk 1' })).toBeVisible();
  const shared = page.url();
  await page.goBack();
  await expect(page.getByTestId('device-count')).toHaveText('2 devices');
  await page.goto(shared);
  await expect(page.getByTestId('device-count')).toHaveText('1 device');

  // Rename in place, and the API sees the new name.
  await page.goto('/devices?metadata=store%3As1&sort=name');
  await hydrated(page);
  const rowA = page.locator(`tr[data-device="${tillA.device.id}"]`);
  await rowA.getByText('Rename').click();
  await rowA.getByLabel('New name').fill('Front till');
  await rowA.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('link', { name: 'Front till' })).toBeVisible();
  const renamed = await api(request, key, 'GET', `/ipp/v1/devices/${tillA.device.id}`);
  expect(renamed.body.name).toBe('Front till');

  // CSV of the filtered view.
  const csv = await page.request.get('/devices.csv?metadata=store%3As1');
  expect(csv.status()).toBe(200);
  const lines = (await csv.text()).trim().split('\n');
  expect(lines).toHaveLength(3);
  expect(lines.slice(1).map((l) => l.split(',')[1]).sort()).toEqual(['Front till', 'Till B']);

  // Deregister one from its page: its token is refused at once.
  await page.goto(`/devices/${kioskTill.device.id}`);
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Kiosk 1' })).toBeVisible();
  await page.getByText('Deregister this device…').click();
  await expect(page.getByText('must pair it with a new pairing code')).toBeVisible();
  await page.getByRole('button', { name: 'Deregister device' }).click();
  await expect(page).toHaveURL(/\/devices$/);
  const me = await request.get('/ipp/v1/devices/me', { headers: { authorization: `Bearer ${kioskTill.credentials.access_token}` } });
  expect(me.status()).toBe(401);

  // Bulk: select the remaining two and deregister them together.
  await expect(page.getByTestId('device-count')).toHaveText('2 devices');
  for (const box of await page.locator('input[type="checkbox"][form="bulk-deregister"]').all()) await box.check();
  await page.getByText('Deregister selected…').click();
  await page.getByRole('button', { name: 'Deregister selected devices' }).click();
  await expect(page.getByRole('status')).toHaveText('Deregistered 2 devices.');
  await expect(page.getByText('No devices yet.')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Create a pairing code' })).toBeVisible();

  // The audit log names each action and who did it.
  await page.getByRole('link', { name: 'Audit log', exact: true }).click();
  const log = page.locator('table.audit');
  await expect(log).toContainText('device.registered');
  await expect(log.getByRole('row').filter({ hasText: 'device.updated' })).toContainText(`${ops} (user)`);
  await expect(log.getByRole('row').filter({ hasText: 'device.deregistered' })).toHaveCount(3);
  await expect(log.getByRole('row').filter({ hasText: 'enrollment.created' }).first()).toContainText('e2e (API key)');
  await expect(log.getByRole('row').filter({ hasText: 'device.registered' }).first()).toContainText('(device)');
  await expectAccessible(page);
});

test('locations show their id and device count', async ({ page, request }) => {
  const merchant = createMerchant('Location Co');
  const key = merchant.apiKey();
  await enroll(request, key, { name: 'Till', metadata: {}, location: merchant.locationId });
  await signIn(page, merchant.addUser('admin'));
  await page.getByRole('link', { name: 'Locations', exact: true }).click();
  const row = page.getByRole('row', { name: /Main Street/ });
  await expect(row).toContainText(merchant.locationId);
  await expect(row.getByRole('link', { name: '1 device', exact: true })).toHaveAttribute('href', `/devices?location=${merchant.locationId}`);
  await page.locator('#l-name').fill('Harbour');
  await page.locator('#l-city').fill('Gothenburg');
  await page.getByRole('button', { name: 'Add location' }).click();
  await expect(page.getByRole('row', { name: /Harbour/ })).toContainText('Gothenburg');
  await expectAccessible(page);
});

test.describe('with JavaScript disabled', () => {
  test.use({ javaScriptEnabled: false });

  test('filter, rename and deregister work with plain forms', async ({ page, request }) => {
    const merchant = createMerchant();
    const key = merchant.apiKey();
    const device = await enroll(request, key, { name: 'Plain till', metadata: { store: 's1' }, location: merchant.locationId });
    await enroll(request, key, { name: 'Other till', metadata: { store: 's2' }, location: merchant.locationId });
    const email = merchant.addUser('ops');
    await page.goto('/login?next=%2Fdevices');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(page).toHaveURL(/\/devices$/);

    await page.getByLabel('Metadata (key:value)').fill('store:s1');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect(page.getByTestId('device-count')).toHaveText('1 device');

    const row = page.locator(`tr[data-device="${device.device.id}"]`);
    await row.getByText('Rename').click();
    await row.getByLabel('New name').fill('Renamed till');
    await row.getByRole('button', { name: 'Save' }).click();
    await expect(page.getByRole('link', { name: 'Renamed till' })).toBeVisible();

    await page.locator(`tr[data-device="${device.device.id}"] input[type="checkbox"]`).check();
    await page.getByText('Deregister selected…').click();
    await page.getByRole('button', { name: 'Deregister selected devices' }).click();
    await expect(page.getByTestId('device-count')).toHaveText('0 devices');
    const gone = await api(request, key, 'GET', `/ipp/v1/devices/${device.device.id}`);
    expect(gone.status).toBe(404);
  });
});
