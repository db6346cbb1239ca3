import { test, expect, hydrated, signIn, shot } from './fixtures';

test('regenerate with an overlap: both secrets work, the page says when the old one stops; dead tokens are hidden', async ({ page, server }) => {
  const seed = server.seedOrg('acme', 'owner@acme.test');
  await signIn(page, server, 'owner@acme.test');
  await page.goto(`${server.url}/orgs/acme/connect`);
  await hydrated(page);

  const tokens = page.getByTestId('tokens');
  const seedRow = tokens.locator('tr', { hasText: 'Okta (seed)' });
  await seedRow.getByRole('button', { name: 'Regenerate' }).click();
  // One hour is offered first: routine rotation without a refused request.
  await expect(seedRow.getByLabel('Overlap')).toHaveValue('1h');
  await shot(page, 'rotation-confirm');
  await seedRow.getByRole('button', { name: 'Confirm regenerate' }).click();

  const dialog = page.getByRole('dialog');
  const fresh = (await dialog.getByTestId('token-secret').textContent())!.trim();
  await expect(dialog.getByTestId('old-token-stops')).toContainText('The old token stops working at');
  await expect(dialog.getByTestId('old-token-stops')).toContainText('in 1 h');
  await shot(page, 'rotation-new-secret');
  await dialog.getByRole('button', { name: 'Done, I copied it' }).click();

  // During the overlap both authenticate SCIM requests.
  expect((await server.scim(seed, 'GET', '/Users')).status).toBe(200);
  expect((await server.scim(fresh, 'GET', '/Users')).status).toBe(200);
  const replaced = tokens.locator('tr', { hasText: 'replaced' });
  await expect(replaced).toHaveCount(1);
  await expect(replaced).toContainText('old token stops working at');
  await expect(replaced.getByRole('button', { name: 'Regenerate' })).toHaveCount(0);
  await shot(page, 'rotation-overlap');

  // Revoking the replaced token ends the overlap at once; then it is hidden by default.
  await replaced.getByRole('button', { name: 'Revoke' }).click();
  await replaced.getByRole('button', { name: 'Confirm revoke' }).click();
  // The count of hidden tokens appears once the revoke has committed (no row says
  // "revoked" before it either, so that alone would not wait for it).
  const toggle = page.getByTestId('show-dead-tokens');
  await expect(toggle).toContainText('Show revoked and expired tokens (1)');
  await expect(tokens.locator('tr', { hasText: 'revoked' })).toHaveCount(0);
  expect((await server.scim(seed, 'GET', '/Users')).status).toBe(401);
  expect((await server.scim(fresh, 'GET', '/Users')).status).toBe(200);
  await shot(page, 'rotation-dead-hidden');
  await toggle.getByRole('checkbox').check();
  await expect(tokens.locator('tr', { hasText: 'revoked' })).toHaveCount(1);
  await shot(page, 'rotation-dead-shown');
});
