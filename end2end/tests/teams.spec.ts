import { test, expect, hydrated, signIn, shot } from './fixtures';

test('teams pushed by Okta are badged and read-only; forged changes are refused', async ({ page, server }) => {
  const token = server.seedOrg('acme', 'owner@acme.test');
  const ids: string[] = [];
  for (const n of ['ann', 'ben', 'cat']) {
    const r = await server.scim(token, 'POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `${n}@acme.test`, displayName: n.toUpperCase(), active: true });
    expect(r.status).toBe(201);
    ids.push(r.body.id);
  }
  const g = await server.scim(token, 'POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Engineering', members: [{ value: ids[0] }, { value: ids[1] }] });
  expect(g.status).toBe(201);
  const patched = await server.scim(token, 'PATCH', `/Groups/${g.body.id}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'add', path: 'members', value: [{ value: ids[2] }] }],
  });
  expect(patched.status).toBe(204);

  await signIn(page, server, 'owner@acme.test');
  await page.getByRole('link', { name: 'Teams' }).click();
  const teamRow = page.getByTestId('teams').locator('tr', { hasText: 'Engineering' });
  await expect(teamRow.getByTestId('sso-badge')).toHaveText('Managed by Okta');
  await shot(page, 'teams');
  await teamRow.getByRole('link', { name: 'Engineering' }).click();
  await expect(page.getByTestId('team-name')).toHaveText('Engineering');
  await expect(page.getByTestId('members')).toContainText('ANN');
  await expect(page.getByTestId('members').locator('tbody tr')).toHaveCount(3);
  await expect(page.getByTestId('read-only-note')).toBeVisible();
  await expect(page.getByTestId('edit-controls')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Remove' })).toHaveCount(0);
  await shot(page, 'team-managed');

  // A console-made team with the same name: refused with a warning first, then made once
  // the admin confirms the name; it is editable.
  await page.getByRole('link', { name: 'Teams' }).click();
  await hydrated(page);
  await page.getByLabel('New team name').fill('Engineering');
  await page.getByRole('button', { name: 'Create team' }).click();
  await expect(page.getByTestId('team-form-error')).toContainText('is already the name of a team managed by Okta');
  await shot(page, 'team-same-name-warning');
  await page.getByLabel('Use this name anyway').check();
  await page.getByRole('button', { name: 'Create team' }).click();
  await expect(page.getByTestId('edit-controls')).toBeVisible();
  await hydrated(page);
  const consoleTeamUrl = page.url();
  await page.getByLabel('Team name').fill('Eng (console)');
  await page.getByRole('button', { name: 'Rename' }).click();
  await expect(page.getByTestId('team-name')).toHaveText('Eng (console)');
  await expect(page.getByTestId('saved')).toHaveText('✓ Renamed');
  // The member picker: part of a name, then a pick from the results.
  await page.getByLabel('Add a member (name, username or email)').pressSequentially('BE');
  await page.getByTestId('member-results').getByRole('button', { name: /BEN/ }).click();
  await expect(page.getByTestId('members')).toContainText('ben@acme.test');
  await expect(page.getByLabel('Add a member (name, username or email)')).toHaveValue('');
  await shot(page, 'team-console');
  await page.getByTestId('members').getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByTestId('members')).toHaveCount(0);

  // A forged server-function call against the managed team is refused by the server.
  const renamePath = await page.locator('form', { has: page.getByLabel('Team name') }).getAttribute('action');
  expect(renamePath).toMatch(/^\/api\/rename_team/);
  // The session cookie is Secure; Playwright's request client (unlike Chromium) does not send
  // Secure cookies over http://127.0.0.1, so the signed-in admin's cookie is passed explicitly.
  const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  const forged = await page.request.post(`${server.url}${renamePath}`, { form: { org: 'acme', id: g.body.id, name: 'Hijacked' }, headers: { accept: 'application/json', cookie } });
  expect(forged.status()).toBe(403);
  expect((await server.scim(token, 'GET', `/Groups/${g.body.id}?excludedAttributes=members`)).body.displayName).toBe('Engineering');
  const addPath = await page.locator('form', { has: page.getByLabel('Add a member (name, username or email)') }).getAttribute('action');
  const forgedAdd = await page.request.post(`${server.url}${addPath}`, { form: { org: 'acme', id: g.body.id, user_name: 'ann@acme.test' }, headers: { accept: 'application/json', cookie } });
  expect(forgedAdd.status()).toBe(403);

  // Delete the console team (with confirmation).
  await page.goto(consoleTeamUrl);
  await hydrated(page);
  await page.getByRole('button', { name: 'Delete team' }).click();
  await page.getByRole('button', { name: 'Confirm delete' }).click();
  await expect(page).toHaveURL(/\/orgs\/acme\/teams$/);
  await expect(page.getByTestId('teams').locator('tbody tr')).toHaveCount(1);
});
