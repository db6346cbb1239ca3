import { test, expect } from '@playwright/test';
import { ADMIN_EMAIL, ADMIN_PASSWORD, hydrated, signIn } from './helpers';

// One fresh database for the whole file: first run must come first.
test.describe.configure({ mode: 'serial' });

test('first run creates the org and its admin, then lands on the dashboard', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/setup$/);
  await hydrated(page);
  await page.screenshot({ path: test.info().outputPath('setup.png'), fullPage: true });
  await page.getByLabel('Organization login').fill('acme');
  await page.getByLabel('Display name').fill('Acme Inc');
  await page.getByLabel('Your email').fill(ADMIN_EMAIL);
  await page.getByLabel('Password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page).toHaveURL(/\/orgs\/acme$/);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expect(page.getByTestId('org-name')).toHaveText('Acme Inc');
  await expect(page.getByTestId('scim-base-url')).toContainText('/scim/v2/acme');
  await page.screenshot({ path: test.info().outputPath('dashboard.png'), fullPage: true });

  // The first-run page is gone once an org exists.
  await page.goto('/setup');
  await expect(page).toHaveURL(/\/sign-in$/);
});

test('a wrong password shows one generic error', async ({ page, context }) => {
  await context.clearCookies();
  await signIn(page, ADMIN_EMAIL, 'not the password at all');
  const error = page.getByTestId('sign-in-error');
  await expect(error).toHaveText('Sign-in failed: check your email and password.');
  await page.screenshot({ path: test.info().outputPath('sign-in-error.png'), fullPage: true });
  // An unknown account gets exactly the same words.
  await signIn(page, 'nobody@acme.test', 'not the password at all');
  await expect(page.getByTestId('sign-in-error')).toHaveText('Sign-in failed: check your email and password.');
  await expect(page).toHaveURL(/\/sign-in$/);
});

test('sign in, see the dashboard, sign out, and the dashboard is gone', async ({ page, context }) => {
  await context.clearCookies();
  await signIn(page, ADMIN_EMAIL, ADMIN_PASSWORD);
  await expect(page).toHaveURL(/\/orgs\/acme$/);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'scimgate_session');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Lax');

  await hydrated(page);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in$/);

  // The old session id is dead on the server too, not just forgotten by the browser.
  if (session) {
    await context.addCookies([{ ...session }]);
  }
  await page.goto('/orgs/acme');
  await expect(page).toHaveURL(/\/sign-in$/);
});
