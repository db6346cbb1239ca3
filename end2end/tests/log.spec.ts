import { test, expect, hydrated, signIn, shot } from './fixtures';

test('the provisioning log shows each call, failures with scimType, filters, and new calls live', async ({ page, server }) => {
  const token = server.seedOrg('acme', 'owner@acme.test');
  const u = await server.scim(token, 'POST', '/Users', { userName: 'dana@acme.test', title: 'Engineer', active: true });
  expect(u.status).toBe(201);
  expect((await server.scim(token, 'PATCH', `/Users/${u.body.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'Lead' }] })).status).toBe(200);
  expect((await server.scim(token, 'GET', '/Users?filter=userName%20eq')).status).toBe(400);

  await signIn(page, server, 'owner@acme.test');
  await page.getByRole('link', { name: 'Provisioning log' }).click();
  const rows = page.getByTestId('events').locator('tbody tr');
  await expect(rows).toHaveCount(3);
  const failed = rows.filter({ hasText: '400' });
  await expect(failed).toHaveClass(/failed/);
  await expect(failed.getByTestId('scim-type')).toHaveText('invalidFilter');
  await expect(rows.filter({ hasText: '201' })).toContainText('created dana@acme.test');
  await shot(page, 'log');
  await hydrated(page);

  // Filters narrow the list.
  await page.getByLabel('Status').selectOption('client');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/status=client/);
  await expect(rows).toHaveCount(1);
  await page.getByLabel('Status').selectOption('');
  await page.getByLabel('Change').selectOption('updated');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('updated dana@acme.test');

  // The event page shows the change as before/after.
  await rows.first().getByRole('link').click();
  await expect(page.getByTestId('event-status')).toHaveText('200');
  await expect(page.locator('table.diff')).toContainText('"Engineer"');
  await expect(page.locator('table.diff')).toContainText('"Lead"');
  await shot(page, 'event');

  // A new call appears without a reload.
  await page.goto(`${server.url}/orgs/acme/log`);
  await hydrated(page);
  await expect(rows).toHaveCount(3);
  expect((await server.scim(token, 'DELETE', `/Users/${u.body.id}`)).status).toBe(204);
  await expect(rows).toHaveCount(4, { timeout: 15_000 });
  await expect(rows.first()).toContainText('deleted dana@acme.test');
});

test('users list and user page, with history', async ({ page, server }) => {
  const token = server.seedOrg('acme', 'owner@acme.test');
  for (const n of ['erin', 'fred']) {
    await server.scim(token, 'POST', '/Users', { userName: `${n}@acme.test`, emails: [{ value: `${n}@mail.acme.test`, primary: true }], active: n === 'erin' });
  }
  await signIn(page, server, 'owner@acme.test');
  await page.getByRole('link', { name: 'Users' }).click();
  await expect(page.getByTestId('user-total')).toHaveText('2 users');
  await hydrated(page);
  await page.getByLabel('Status').selectOption('deactivated');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page.getByTestId('user-total')).toHaveText('1 users');
  await page.getByLabel('Search users').fill('fred@mail');
  await page.getByLabel('Status').selectOption('');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page.getByTestId('user-total')).toHaveText('1 users');
  await page.getByLabel('Search users').fill('');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page.getByTestId('user-total')).toHaveText('2 users');
  await shot(page, 'users');
  await page.getByRole('link', { name: 'erin@acme.test' }).click();
  await expect(page.getByText('Read-only: change this user in Okta.')).toBeVisible();
  await expect(page.getByTestId('events')).toContainText('created erin@acme.test');
  await shot(page, 'user');
});
