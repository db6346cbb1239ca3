import { test, expect, signIn, shot, hydrated, PASSWORD } from './fixtures';

test('admins are invited: a new person joins with the code, an existing admin accepts at sign-in', async ({ page, browser, server }) => {
  server.seedOrg('acme', 'owner@acme.test');
  server.seedOrg('beta', 'owner@beta.test');
  const csp: string[] = [];
  page.on('console', (m) => { if (m.text().includes('Content Security Policy')) csp.push(m.text()); });

  await signIn(page, server, 'owner@acme.test');
  await page.goto(`${server.url}/orgs/acme/admins`);
  await hydrated(page);
  // Invite someone new and an admin of another org: the same kind of answer for both.
  const invite = async (email: string) => {
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Invite' }).click();
    await expect(page.getByTestId('invitation')).toContainText(email);
    return (await page.getByTestId('invitation').locator('code').innerText()).trim();
  };
  const code = await invite('new@acme.test');
  const betaCode = await invite('owner@beta.test');
  await expect(page.getByTestId('invited')).toContainText('owner@beta.test');
  await expect(page.getByTestId('admins')).not.toContainText('owner@beta.test');
  await shot(page, 'admins-invited');

  // The new person joins with the code.
  const newcomer = await browser.newPage();
  await newcomer.goto(`${server.url}/join`);
  await hydrated(newcomer);
  await newcomer.getByLabel('Email').fill('new@acme.test');
  await newcomer.getByLabel('Invitation code').fill(code);
  await newcomer.getByLabel('Password').fill('a brand new password');
  await newcomer.getByRole('button', { name: 'Join' }).click();
  await expect(newcomer.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await newcomer.close();

  // The beta admin is asked at the next sign-in, and only joins by accepting.
  const other = await browser.newPage();
  await other.goto(`${server.url}/sign-in`);
  await hydrated(other);
  await other.getByLabel('Email').fill('owner@beta.test');
  await other.getByLabel('Password').fill(PASSWORD);
  await other.getByRole('button', { name: 'Sign in' }).click();
  await expect(other.getByTestId('invitations')).toContainText('acme');
  await shot(other, 'invitations');
  await other.getByLabel('Invitation code').fill(betaCode);
  await other.getByRole('button', { name: 'Accept' }).click();
  await expect(other.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await other.close();

  await page.goto(`${server.url}/orgs/acme/admins`);
  await expect(page.getByTestId('admins')).toContainText('new@acme.test');
  await expect(page.getByTestId('admins')).toContainText('owner@beta.test');
  await expect(page.getByTestId('audit')).toContainText('admin joined');
  expect(csp, 'no Content-Security-Policy violations').toEqual([]);
});
