import { test, expect, hydrated, signIn, shot, PASSWORD } from './fixtures';

test('future times read "in 3 days"; managed records say "Managed by Okta"', async ({ page, server }) => {
  const token = server.seedOrg('acme', 'owner@acme.test');
  const u = await server.scim(token, 'POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'ann@acme.test', displayName: 'Ann', active: true });
  expect(u.status).toBe(201);
  await signIn(page, server, 'owner@acme.test');

  await page.goto(`${server.url}/orgs/acme/connect`);
  await hydrated(page);
  await page.getByTestId('advanced-settings').getByRole('button', { name: 'New token' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Label').fill('Expiring soon');
  await dialog.getByLabel('Expires in (days, optional)').fill('3');
  await dialog.getByRole('button', { name: 'Generate token' }).click();
  await expect(dialog.getByTestId('token-secret')).toBeVisible();
  await dialog.getByRole('button', { name: 'Done, I copied it' }).click();
  const row = page.getByTestId('tokens').locator('tr', { hasText: 'Expiring soon' });
  await expect(row.locator('td').nth(4)).toContainText('(in 3 days)');
  await shot(page, 'future-expiry');

  await page.goto(`${server.url}/orgs/acme/users/${u.body.id}`);
  await expect(page.getByTestId('sso-badge')).toHaveText('Managed by Okta');
  await shot(page, 'user-managed-badge');
});

test('removing yourself asks first, then lands on the front door', async ({ page, server }) => {
  server.seedOrg('acme', 'owner@acme.test');
  server.cli(['admin', 'create', '--org', 'acme', '--email', 'second@acme.test'], PASSWORD + '\n');
  await signIn(page, server, 'owner@acme.test');
  await page.getByRole('link', { name: 'Admins' }).click();
  await hydrated(page);

  // Inviting: the code is shown once with a copy button, and the form is emptied.
  await page.getByLabel('Email').fill('new@acme.test');
  await page.getByRole('button', { name: 'Invite' }).click();
  await expect(page.getByTestId('invitation-code')).toBeVisible();
  await expect(page.getByTestId('invitation').getByRole('button', { name: 'Copy' })).toBeVisible();
  await expect(page.getByLabel('Email')).toHaveValue('');
  await shot(page, 'invite-code');

  const me = page.getByTestId('admins').locator('tr', { hasText: 'owner@acme.test' });
  await me.getByRole('button', { name: 'Remove' }).click();
  await expect(me.getByTestId('confirm-remove-admin')).toContainText('Remove yourself? You lose access to ACME Corp at once');
  await shot(page, 'remove-yourself-confirm');
  // Cancel keeps everything as it was.
  await me.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByTestId('admins').locator('tbody tr')).toHaveCount(2);

  await me.getByRole('button', { name: 'Remove' }).click();
  await me.getByRole('button', { name: 'Confirm: remove me' }).click();
  await expect(page.getByRole('heading', { name: 'No organization yet' })).toBeVisible();
  await expect(page).toHaveURL(`${server.url}/`);
  await shot(page, 'removed-yourself-landing');
});
