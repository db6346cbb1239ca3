import { test, expect, hydrated, signIn, shot } from './fixtures';

test('a token is shown once, works, regenerates (old one refused) and revokes', async ({ page, server }) => {
  server.seedOrg('acme', 'owner@acme.test');
  await signIn(page, server, 'owner@acme.test');
  await page.getByRole('link', { name: 'Connect', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Connect your identity provider' })).toBeVisible();
  await expect(page.getByTestId('connect-base-url')).toHaveText(`${server.url}/scim/v2/acme`);
  await hydrated(page);

  await page.getByTestId('advanced-settings').getByRole('button', { name: 'New token' }).click();
  await page.getByTestId('token-dialog').getByLabel('Label').fill('Okta production');
  await page.getByRole('button', { name: 'Generate token' }).click();
  const secretEl = page.getByTestId('token-secret');
  await expect(secretEl).toBeVisible();
  await expect(page.getByText('It will not be shown again')).toBeVisible();
  const secret = (await secretEl.textContent())!.trim();
  expect(secret).toMatch(/^scimgate_[0-9a-f]{64}$/);
  await shot(page, 'connect-token-shown');

  // The secret works on the SCIM API.
  expect((await server.scim(secret, 'GET', '/Users')).status).toBe(200);

  await page.getByRole('button', { name: 'Done, I copied it' }).click();
  await expect(page.getByTestId('token-secret')).toHaveCount(0);

  // After a reload only the hint is left.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('tokens')).toContainText('Okta production');
  await expect(page.getByTestId('token-secret')).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);
  await page.goBack();
  await page.goForward();
  expect(await page.content()).not.toContain(secret);
  await hydrated(page);

  // Regenerate without an overlap, behind a confirmation: the old secret fails at once,
  // the new one works.
  const row = page.getByTestId('tokens').locator('tr', { hasText: 'Okta production' }).filter({ hasText: 'active' });
  await row.getByRole('button', { name: 'Regenerate' }).click();
  await row.getByLabel('Overlap').selectOption('none');
  await row.getByRole('button', { name: 'Confirm regenerate' }).click();
  await expect(page.getByTestId('old-token-stops')).toHaveText('The old token stopped working.');
  await expect(page.getByTestId('token-secret')).toBeVisible();
  const fresh = (await page.getByTestId('token-secret').textContent())!.trim();
  expect(fresh).not.toBe(secret);
  expect((await server.scim(secret, 'GET', '/Users')).status).toBe(401);
  expect((await server.scim(fresh, 'GET', '/Users')).status).toBe(200);
  await page.getByRole('button', { name: 'Done, I copied it' }).click();

  // Revoke the new one.
  const active = page.getByTestId('tokens').locator('tr', { hasText: 'Okta production' }).filter({ hasText: 'active' });
  await active.getByRole('button', { name: 'Revoke' }).click();
  await active.getByRole('button', { name: 'Confirm revoke' }).click();
  await expect(page.getByTestId('tokens').locator('tr', { hasText: 'Okta production' }).filter({ hasText: 'active' })).toHaveCount(0);
  expect((await server.scim(fresh, 'GET', '/Users')).status).toBe(401);
  await shot(page, 'connect-tokens');

  // The dashboard tells the admin that the identity provider still uses a dead token.
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await expect(page.getByTestId('dashboard-warning')).toContainText('401');
  await shot(page, 'dashboard-warning');
});
