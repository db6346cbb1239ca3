import { test, expect, shot, signIn } from './fixtures';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

test("a user's page tells their story: changes before and after, team joins and leaves by name", async ({ page, server }) => {
  const token = server.seedOrg('acme', 'owner@acme.test');
  const u = await server.scim(token, 'POST', '/Users', { userName: 'gale@acme.test', title: 'Engineer', active: true });
  expect(u.status).toBe(201);
  const id = u.body.id;
  expect((await server.scim(token, 'PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Lead' }] })).status).toBe(200);
  const g = await server.scim(token, 'POST', '/Groups', { displayName: 'Research', members: [{ value: id }] });
  expect(g.status).toBe(201);
  expect((await server.scim(token, 'PATCH', `/Groups/${g.body.id}`, { schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${id}"]` }] })).status).toBe(204);
  expect((await server.scim(token, 'PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false }] })).status).toBe(200);

  await signIn(page, server, 'owner@acme.test');
  await page.goto(`${server.url}/orgs/acme/users/${id}`);
  const timeline = page.getByRole('region', { name: 'Timeline' });
  const entries = timeline.locator('li.timeline-entry');
  await expect(entries).toHaveCount(5);
  // Newest first: when she lost access to Research, and who did it.
  await expect(entries.nth(0)).toContainText('Deactivated');
  await expect(entries.nth(1)).toContainText('Left team Research');
  await expect(entries.nth(1)).toContainText('(SCIM)');
  await expect(entries.nth(2)).toContainText('Joined team Research');
  await expect(entries.nth(3)).toContainText('Profile changed');
  const change = entries.nth(3).locator('table.changes tbody tr');
  await expect(change.locator('th')).toHaveText('title');
  await expect(change.locator('td.before')).toHaveText('Engineer');
  await expect(change.locator('td.after')).toHaveText('Lead');
  await expect(entries.nth(4)).toContainText('Created');
  await shot(page, 'user-timeline');

  // The team is a link to its page.
  await entries.nth(1).getByRole('link', { name: 'Research' }).click();
  await expect(page).toHaveURL(new RegExp(`/orgs/acme/teams/${g.body.id}$`));
});
