import { test, expect, hydrated, signIn, shot } from './fixtures';

test('an app key is shown once and revokes; a user pushed over SCIM appears in the event feed without a reload', async ({ page, server }) => {
  const token = server.seedOrg('acme', 'owner@acme.test');
  await signIn(page, server, 'owner@acme.test');
  await page.getByRole('link', { name: 'Integrations' }).click();
  await expect(page.getByRole('heading', { name: 'Integrations', level: 1 })).toBeVisible();
  await hydrated(page);
  await expect(page.getByText('No event yet')).toBeVisible();

  // A key: its secret shown once, with a copy button; the list shows only its hint.
  await page.getByLabel('Label').fill('Billing service');
  await page.getByRole('button', { name: 'Create key' }).click();
  const secretEl = page.getByTestId('app-key-secret');
  await expect(secretEl).toBeVisible();
  await expect(page.getByText('This is shown once')).toBeVisible();
  await expect(page.getByTestId('new-app-key').getByRole('button', { name: 'Copy' })).toBeVisible();
  const secret = (await secretEl.textContent())!.trim();
  expect(secret).toMatch(/^sgapp_/);
  const keys = page.getByTestId('app-keys');
  await expect(keys).toContainText('Billing service');
  await expect(keys).toContainText('owner@acme.test');
  expect(await keys.textContent()).not.toContain(secret);

  // A user pushed over SCIM shows up in the feed on its own: the secret still on screen
  // proves the page was not reloaded.
  const u = await server.scim(token, 'POST', '/Users', { userName: 'dana@acme.test', active: true });
  expect(u.status).toBe(201);
  const created = page.getByTestId('event-feed').locator('tbody tr', { hasText: 'user.created' });
  await expect(created).toHaveCount(1, { timeout: 15_000 });
  await expect(created).toContainText('dana@acme.test created');
  await expect(created).toContainText('SCIM');
  await expect(secretEl).toHaveText(secret);
  await shot(page, 'integrations');

  // After a reload the secret is gone and the event is still listed.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('app-key-secret')).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);
  await expect(page.getByTestId('event-feed').locator('tbody tr', { hasText: 'user.created' })).toHaveCount(1);

  // The next change arrives on top of what the page already has.
  expect((await server.scim(token, 'PATCH', `/Users/${u.body.id}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'replace', path: 'active', value: false }],
  })).status).toBe(200);
  const rows = page.getByTestId('event-feed').locator('tbody tr');
  await expect(rows.first()).toContainText('user.deactivated', { timeout: 15_000 });
  await expect(rows.filter({ hasText: 'user.deactivated' })).toHaveCount(1);
  await expect(rows.filter({ hasText: 'user.created' })).toHaveCount(1);

  // Revoke, behind a confirmation.
  const row = keys.locator('tr', { hasText: 'Billing service' });
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByRole('button', { name: 'Confirm revoke' }).click();
  await expect(row).toContainText('revoked');
  await expect(row.getByRole('button', { name: 'Revoke' })).toHaveCount(0);
  await shot(page, 'integrations-revoked');
});
