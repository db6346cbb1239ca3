import { test, expect, hydrated, signIn, shot, PASSWORD } from './fixtures';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

/** A fresh org with its admin and no SCIM token (the flow generates one). */
function seedBare(server: { cli(args: string[], input?: string): string }) {
  server.cli(['org', 'create', 'acme', '--name', 'Acme Corp']);
  server.cli(['admin', 'create', '--org', 'acme', '--email', 'owner@acme.test'], PASSWORD + '\n');
}

test('guided connection: from the empty dashboard to connected, live', async ({ page, server }) => {
  seedBare(server);
  await signIn(page, server, 'owner@acme.test');

  // The dashboard's empty state leads into the flow.
  const cta = page.getByTestId('connect-cta');
  await expect(cta).toHaveText('Connect your identity provider');
  await expect(cta).toHaveClass(/btn/);
  await shot(page, 'dashboard-empty');
  await hydrated(page);
  await cta.click();
  await expect(page).toHaveURL(/\/orgs\/acme\/connect$/);
  await hydrated(page);

  // Choose the identity provider: its steps, in its own words and in order.
  await page.getByRole('link', { name: 'Okta', exact: true }).click();
  await expect(page).toHaveURL(/idp=okta/);
  const steps = page.getByTestId('steps-okta');
  await expect(steps).toBeVisible();
  const items = steps.locator('li');
  await expect(items.nth(1)).toContainText('SCIM connector base URL');
  await expect(items.nth(1).getByTestId('connect-base-url')).toHaveText(`${server.url}/scim/v2/acme`);
  await expect(items.nth(2)).toContainText('Unique identifier field for users: userName');
  await expect(items.nth(3)).toContainText('Supported provisioning actions');
  await expect(items.nth(3)).toContainText('Push New Users');
  await expect(items.nth(3)).toContainText('Push Groups');
  await expect(items.nth(4)).toContainText('Authentication Mode: HTTP Header');
  await expect(items.nth(6)).toContainText('Deactivate Users');
  // Advanced settings come after the steps and the status.
  const order = await page.evaluate(() => {
    const y = (id: string) => document.querySelector(`[data-testid="${id}"]`)!.getBoundingClientRect().top;
    return [y('choose-idp'), y('idp-steps'), y('connection'), y('advanced-settings')];
  });
  expect([...order].sort((a, b) => a - b)).toEqual(order);
  await expect(page.getByTestId('connection-status')).toContainText('Waiting for the first request from Okta');
  await shot(page, 'connect-okta-steps');

  // Other providers' steps use their own setting names.
  await page.getByRole('link', { name: 'Microsoft Entra ID' }).click();
  await expect(page.getByTestId('steps-entra')).toContainText('Provisioning Mode: Automatic');
  await expect(page.getByTestId('steps-entra')).toContainText('Tenant URL');
  await expect(page.getByTestId('steps-entra')).toContainText('Secret Token');
  await expect(page.getByTestId('steps-entra')).toContainText('Test Connection');
  await shot(page, 'connect-entra-steps');
  await page.getByRole('link', { name: 'OneLogin' }).click();
  for (const t of ['SCIM Base URL', 'SCIM Bearer Token', 'SCIM JSON Template']) {
    await expect(page.getByTestId('steps-onelogin')).toContainText(t);
  }
  await page.getByRole('link', { name: 'JumpCloud' }).click();
  for (const t of ['Base URL', 'Token Key', 'Test Connection']) {
    await expect(page.getByTestId('steps-jumpcloud')).toContainText(t);
  }
  await page.getByRole('link', { name: 'Okta', exact: true }).click();
  await hydrated(page);

  // The token: generated in a dialog, shown once with a copy button.
  await page.getByTestId('steps-okta').getByRole('button', { name: 'Generate token…' }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel('Label')).toHaveValue('Okta');
  await dialog.getByRole('button', { name: 'Generate token' }).click();
  const secret = (await dialog.getByTestId('token-secret').textContent())!.trim();
  expect(secret).toMatch(/^scimgate_[0-9a-f]{64}$/);
  await expect(dialog.getByRole('button', { name: 'Copy' })).toBeVisible();
  await shot(page, 'connect-token-dialog');
  await dialog.getByRole('button', { name: 'Done, I copied it' }).click();
  await expect(page.getByRole('dialog')).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);

  // Still waiting; then Okta's requests arrive and the page turns "connected" by itself.
  const status = page.getByTestId('connection-status');
  await expect(status).toContainText('Waiting for the first request');
  const u = await server.scim(secret, 'POST', '/Users', { schemas: [USER], userName: 'ann@acme.test', displayName: 'Ann', active: true });
  expect(u.status).toBe(201);
  const u2 = await server.scim(secret, 'POST', '/Users', { schemas: [USER], userName: 'bob@acme.test', displayName: 'Bob', active: true });
  expect(u2.status).toBe(201);
  const g = await server.scim(secret, 'POST', '/Groups', { schemas: [GROUP], displayName: 'Engineering', members: [{ value: u.body.id }] });
  expect(g.status).toBe(201);
  await expect(status).toContainText('Connected: Okta reached scimgate.', { timeout: 15_000 });
  await expect(page.getByTestId('connection-counts')).toHaveText('2 users and 1 group provisioned so far.', { timeout: 15_000 });
  await expect(page.getByTestId('connection-recent')).toContainText('/Groups');
  await shot(page, 'connect-connected');

  // Advanced settings: saving says so.
  await page.getByLabel('Allowed roles (comma-separated; empty: any)').fill('admin, member');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByTestId('advanced-settings').getByTestId('saved')).toHaveText('✓ Saved');
  await shot(page, 'connect-settings-saved');
});
