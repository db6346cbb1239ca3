import { test, expect, shot, signIn } from './fixtures';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

test('an event page leads with what changed, names members with links, shows the error sent, and goes back to the filtered list', async ({ page, server }) => {
  const token = server.seedOrg('acme', 'owner@acme.test');
  const u = await server.scim(token, 'POST', '/Users', { userName: 'hana@acme.test', displayName: 'Hana Abe', active: true });
  expect(u.status).toBe(201);
  const g = await server.scim(token, 'POST', '/Groups', { displayName: 'Design' });
  expect(g.status).toBe(201);
  expect((await server.scim(token, 'PATCH', `/Groups/${g.body.id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: u.body.id }] }] })).status).toBe(204);
  // A request that fails: a duplicate userName (409 uniqueness).
  expect((await server.scim(token, 'POST', '/Users', { userName: 'hana@acme.test' })).status).toBe(409);

  await signIn(page, server, 'owner@acme.test');
  // Filtered list → the group request → its members by name → back to the same filter.
  await page.goto(`${server.url}/orgs/acme/log?kind=member_added`);
  const rows = page.getByTestId('events').locator('tbody tr');
  await expect(rows).toHaveCount(1);
  await rows.first().getByRole('link').click();
  await expect(page).toHaveURL(/kind=member_added/);
  const changed = page.getByRole('region', { name: 'What changed' });
  await expect(changed).toContainText('member added Group Design');
  await expect(changed.getByRole('link', { name: 'Design' })).toHaveAttribute('href', `/orgs/acme/teams/${g.body.id}`);
  await expect(page.getByTestId('members').getByRole('link', { name: 'hana@acme.test' })).toHaveAttribute('href', `/orgs/acme/users/${u.body.id}`);
  await shot(page, 'event-members');
  await page.getByRole('link', { name: '← Back to the log' }).click();
  await expect(page).toHaveURL(/\/orgs\/acme\/log\?kind=member_added$/);
  await expect(rows).toHaveCount(1);

  // The failed request shows the error body scimgate answered.
  await page.goto(`${server.url}/orgs/acme/log?status=client`);
  await expect(rows).toHaveCount(1);
  await rows.first().getByRole('link').click();
  const error = page.getByTestId('error-body');
  await expect(error).toContainText('"status": "409"');
  await expect(error).toContainText('"scimType": "uniqueness"');
  await expect(error).toContainText(`"detail": "userName 'hana@acme.test' is already taken in this organization"`);
  await expect(page.getByRole('region', { name: 'What changed' })).toContainText('the request failed');
  await shot(page, 'event-error');
});

test('the log pages both ways', async ({ page, server }) => {
  const token = server.seedOrg('acme', 'owner@acme.test');
  // More than one page of logged requests (50 per page): failures are kept in full...
  for (let i = 0; i < 55; i++) {
    expect((await server.scim(token, 'GET', `/Users/missing-${i}`)).status).toBe(404);
  }
  // ...while successful reads are counted per minute, below the table.
  for (let i = 0; i < 7; i++) {
    expect((await server.scim(token, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "p${i}@acme.test"`)}`)).status).toBe(200);
  }
  await signIn(page, server, 'owner@acme.test');
  await page.goto(`${server.url}/orgs/acme/log`);
  const rows = page.getByTestId('events').locator('tbody tr');
  await expect(rows).toHaveCount(50);
  const reads = page.getByTestId('read-traffic');
  await expect(reads).toContainText('GET /Users?filter');
  // One row, or two if the minute turned meanwhile.
  await expect.poll(async () => (await reads.getByTestId('read-count').allInnerTexts()).reduce((n, t) => n + Number(t), 0)).toBe(7);
  const newest = await rows.first().innerText();
  await expect(page.getByRole('link', { name: '← Newer' })).toHaveCount(0);
  await page.getByRole('link', { name: 'Older →' }).click();
  await expect(page).toHaveURL(/before=/);
  await expect(rows).toHaveCount(5);
  await page.getByRole('link', { name: '← Newer' }).click();
  await expect(page).toHaveURL(/after=/);
  await expect(rows).toHaveCount(50);
  expect(await rows.first().innerText()).toBe(newest);
});
