// Passkeys with Chromium's virtual authenticator (DevTools protocol, WebAuthn domain): added
// from My account, then signing in with no email or password, then removed. Browsers refuse
// passkeys at an IP address, so these tests browse the portal at localhost, its public URL.
import { test, expect, createMerchant, signIn, hydrated, expectAccessible } from '../fixtures.js';

test.use({ baseURL: process.env.IPP_LOCAL_URL });

/** A platform authenticator that keeps discoverable credentials and verifies the user. */
async function virtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    },
  };
}

async function signOut(page) {
  await page.locator('.account-menu > summary').click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login/);
}

test('add a passkey, sign in with it without a password, remove it', async ({ page }) => {
  const merchant = createMerchant('Passkey Roasters');
  const email = merchant.addUser('ops');
  const authenticator = await virtualAuthenticator(page);

  await signIn(page, email);
  await page.goto('/account');
  await hydrated(page);
  const section = page.getByTestId('passkeys');
  await expect(section.getByRole('heading', { name: 'Passkeys' })).toBeVisible();
  await expect(section).toContainText('No passkeys yet.');
  await expect(section.getByTestId('passkey-support')).toHaveText('');
  await section.getByLabel('Name (the device or password manager that keeps it)').fill('Virtual key');
  await section.getByRole('button', { name: 'Add a passkey' }).click();
  const row = section.getByRole('row', { name: /Virtual key/ });
  await expect(row).toBeVisible();
  await expect(row).toContainText('never');
  const [credential] = await authenticator.credentials();
  expect(credential.isResidentCredential).toBe(true);
  await expectAccessible(page);

  // Signed out, the passkey alone signs in: no email, no password.
  await signOut(page);
  await page.goto('/login?next=%2Faccount');
  await hydrated(page);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.locator('dl.facts')).toContainText(email);
  await expect(section.getByRole('row', { name: /Virtual key/ })).not.toContainText('never');

  // Removed, it signs nobody in any more.
  await hydrated(page);
  await section.getByText('Remove…').click();
  await section.getByRole('button', { name: 'Remove passkey' }).click();
  await expect(section).toContainText('No passkeys yet.');
  await expectAccessible(page);
  await signOut(page);
  await hydrated(page);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page.getByRole('alert')).toHaveText(/passkey was not accepted/);
  await expect(page).toHaveURL(/\/login/);
});

test('a password sign-in asks for the passkey next, and the first passkey brings recovery codes', async ({ page }) => {
  const merchant = createMerchant('Passkey Bakery');
  const email = merchant.addUser('ops');
  await virtualAuthenticator(page);

  await signIn(page, email);
  await page.goto('/account');
  await hydrated(page);
  const section = page.getByTestId('passkeys');
  await section.getByLabel('Name (the device or password manager that keeps it)').fill('Till laptop');
  await section.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(section.getByRole('row', { name: /Till laptop/ })).toBeVisible();
  // Shown once, with the first second factor.
  await expect(page.getByTestId('recovery-codes-left')).toContainText('10 of 10');

  await signOut(page);
  await signIn(page, email);
  await expect(page).toHaveURL(/\/login\/verify/);
  await hydrated(page);
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Use a passkey' }).click();
  // Signed in, on the overview.
  await expect(page).toHaveURL(/:\d+\/$/);
  await expect(page.locator('.account-menu > summary')).toBeVisible();
});

test('the sign-in page says when the browser has no passkeys', async ({ page }) => {
  // A browser without WebAuthn: the button stays off and the page says why.
  await page.addInitScript(() => { delete window.PublicKeyCredential; });
  await page.goto('/login');
  await hydrated(page);
  await expect(page.getByRole('button', { name: 'Sign in with a passkey' })).toBeDisabled();
  await expect(page.getByTestId('passkey-support')).toContainText('needs a browser with passkeys');
});

test('opened at the IP address, the sign-in page says to use the portal\'s own address', async ({ page }) => {
  await page.goto(`${process.env.IPP_BASE_URL}/login`);
  await hydrated(page);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page.getByRole('alert')).toContainText('refuses passkeys at this address');
});
