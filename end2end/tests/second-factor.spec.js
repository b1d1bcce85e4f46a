// Second factors: an authenticator app set up on My account (its codes computed here, as
// the app on a phone computes them), the second sign-in step, recovery codes, and the
// merchant's rule that everyone needs a second factor; with JavaScript on and off.
import { createHmac } from 'node:crypto';
import { test, expect, createMerchant, signIn, decodeQr, expectAccessible, PASSWORD } from '../fixtures.js';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32Decode(text) {
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (const char of text.replace(/[\s=]/g, '').toUpperCase()) {
    value = (value << 5) | BASE32.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** RFC 6238 (SHA-1, 6 digits, 30 s): the code for the step `offset` steps from now. */
function totp(secret, offset = 0) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + offset));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const at = mac[mac.length - 1] & 0x0f;
  const number = (mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000;
  return String(number).padStart(6, '0');
}

/** Sets up an authenticator app on My account; returns its secret and recovery codes. */
async function setUpAuthenticator(page, { checkAccessibility = false } = {}) {
  await page.goto('/account');
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  const key = page.getByTestId('totp-secret');
  await expect(key).toBeVisible();
  const secret = await key.getAttribute('data-secret');
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  if (checkAccessibility) {
    // What a phone's camera reads from the QR code is the same key.
    const uri = await decodeQr(page, '.qr');
    expect(uri).toContain('otpauth://totp/');
    expect(uri).toContain(`secret=${secret}`);
    await expectAccessible(page);
  }
  await page.getByLabel('Then enter the six-digit code the app shows').fill(totp(secret));
  await page.getByRole('button', { name: 'Confirm' }).click();
  const codes = page.getByTestId('recovery-codes').locator('code');
  await expect(codes).toHaveCount(10);
  await expect(page.getByTestId('authenticator-on')).toBeVisible();
  if (checkAccessibility) await expectAccessible(page);
  return { secret, recoveryCodes: await codes.allTextContents() };
}

/** Signs in with the password and then `code`, one of the recovery codes. */
async function signInWithRecoveryCode(page, email, code) {
  await signOut(page);
  await signIn(page, email);
  // The recovery form is a <details>: it opens without JavaScript too.
  await page.getByText('Use a recovery code').click();
  await page.getByLabel('Recovery code').fill(code);
  await page.getByRole('button', { name: 'Use recovery code' }).click();
}

async function signOut(page) {
  await page.context().clearCookies();
}

async function typePassword(page, email) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

test('an authenticator app is set up on My account and asked for at sign-in', async ({ page }) => {
  // Four sign-ins and two accessibility checks: more than the default 30 s on a busy machine.
  test.slow();
  const merchant = createMerchant('Two-Step Bakery');
  const email = merchant.addUser('ops');
  await signIn(page, email);
  const { secret, recoveryCodes } = await setUpAuthenticator(page, { checkAccessibility: true });
  await page.reload();
  // Shown once only.
  await expect(page.getByTestId('recovery-codes')).toHaveCount(0);
  await expect(page.getByTestId('recovery-codes-left')).toContainText('10 of 10');

  await signOut(page);
  await signIn(page, email);
  await expect(page).toHaveURL(/\/login\/verify\?next=%2F$/);
  await expect(page.getByRole('heading', { name: 'Confirm it is you' })).toBeVisible();
  await expectAccessible(page);
  await page.getByLabel('The six-digit code your app shows').fill('000000' === totp(secret, 1) ? '111111' : '000000');
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByText('this code is wrong or was used already')).toBeVisible();
  // The code of the next step: the one used to confirm the app is spent.
  await page.getByLabel('The six-digit code your app shows').fill(totp(secret, 1));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByRole('heading', { name: 'Two-Step Bakery' })).toBeVisible();

  // A recovery code instead, once.
  await signInWithRecoveryCode(page, email, recoveryCodes[0]);
  await expect(page.getByRole('heading', { name: 'Two-Step Bakery' })).toBeVisible();
  await signInWithRecoveryCode(page, email, recoveryCodes[0]);
  await expect(page.getByText('this code is wrong or was used already')).toBeVisible();
  await expect(page).toHaveURL(/\/login\/verify/);
});

test('the rule sends a user without a second factor to set one up first', async ({ page }) => {
  test.slow();
  const merchant = createMerchant('Strict Deli');
  const admin = merchant.addUser('admin');
  const ops = merchant.addUser('ops');
  await signIn(page, admin);
  await setUpAuthenticator(page);
  await page.goto('/users');
  await page.getByRole('button', { name: 'Require a second factor for everyone' }).click();
  await expect(page.getByTestId('second-factor-rule')).toContainText('Every user must have a second factor');
  await expectAccessible(page);

  await signOut(page);
  await signIn(page, ops);
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByText('Your merchant requires a second factor').first()).toBeVisible();
  await page.goto('/devices');
  await expect(page).toHaveURL(/\/account$/);
  await expectAccessible(page);
  await setUpAuthenticator(page);
  await page.goto('/devices');
  await expect(page).toHaveURL(/\/devices$/);
  await expect(page.getByRole('heading', { name: 'Devices' })).toBeVisible();
});

test.describe('with JavaScript disabled', () => {
  test.use({ javaScriptEnabled: false });

  test('setting up an app and the second step work with plain forms', async ({ page }) => {
    test.slow();
    const merchant = createMerchant('No-Script Two-Step');
    const email = merchant.addUser('ops');
    await page.goto('/login');
    await typePassword(page, email);
    await expect(page).not.toHaveURL(/\/login/);
    const { secret, recoveryCodes } = await setUpAuthenticator(page);

    await signOut(page);
    await page.goto('/devices');
    await expect(page).toHaveURL(/\/login\?next=%2Fdevices/);
    await typePassword(page, email);
    await expect(page).toHaveURL(/\/login\/verify\?next=%2Fdevices/);
    await page.getByLabel('The six-digit code your app shows').fill(totp(secret, 1));
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(page).toHaveURL(/\/devices$/);

    await signOut(page);
    await page.goto('/login');
    await typePassword(page, email);
    // The recovery form is a <details>: it opens without JavaScript.
    await page.getByText('Use a recovery code').click();
    await page.getByLabel('Recovery code').fill(recoveryCodes[1]);
    await page.getByRole('button', { name: 'Use recovery code' }).click();
    await expect(page).not.toHaveURL(/\/login/);
    await expect(page.getByRole('navigation', { name: 'Main' }).first()).toBeAttached();
  });
});
