import { test, expect, signIn, shot } from './fixtures';

test('an admin of org A cannot see org B', async ({ page, server }) => {
  server.seedOrg('acme', 'owner@acme.test');
  const betaToken = server.seedOrg('beta', 'owner@beta.test');
  await server.scim(betaToken, 'POST', '/Users', { userName: 'secret-user@beta.test' }, 'beta');

  await signIn(page, server, 'owner@acme.test');
  for (const p of ['', '/users', '/teams', '/log', '/connect', '/admins']) {
    await page.goto(`${server.url}/orgs/beta${p}`);
    await expect(page.getByText('Organization not found.').first()).toBeVisible();
    expect(await page.content()).not.toContain('secret-user@beta.test');
  }
  await shot(page, 'other-org');
  // The admins page of one's own org works, and lists only its admins.
  await page.goto(`${server.url}/orgs/acme/admins`);
  await expect(page.getByTestId('admins')).toContainText('owner@acme.test');
  await expect(page.getByTestId('admins')).not.toContainText('owner@beta.test');
  await shot(page, 'admins');
  // The same console at a phone's width: navigation wraps, nothing overflows the page.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${server.url}/orgs/acme`);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await shot(page, 'dashboard-phone');
});
