import { Page } from '@playwright/test';
import { test, expect, hydrated, signIn, shot } from './fixtures';
import { addAppKey, consolePages, open, seedConsole } from './console-pages';

const PHONE = { width: 390, height: 844 };

/** The page itself never scrolls sideways (a wide table scrolls inside its own box). */
async function expectNoHorizontalOverflow(page: Page) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  expect(scrollWidth, 'page wider than the screen').toBeLessThanOrEqual(innerWidth);
}

/** A header cell, and the first row's cell under it, lie fully inside the screen. */
async function expectColumnInView(page: Page, table: string, header: string) {
  const t = page.locator(table).first();
  const th = t.locator('thead th', { hasText: new RegExp(`^${header}$`) });
  await expect(th, `column ${header} of ${table}`).toBeVisible();
  const index = await th.evaluate((el) => Array.from(el.parentElement!.children).indexOf(el));
  const cell = t.locator('tbody tr').first().locator('td').nth(index);
  await expect(cell).toBeVisible();
  for (const box of [await th.boundingBox(), await cell.boundingBox()]) {
    expect(box).not.toBeNull();
    expect(box!.x, `${header} starts on screen`).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width, `${header} ends on screen`).toBeLessThanOrEqual(PHONE.width + 0.5);
  }
}

test.describe('on a phone (390×844)', () => {
  test.use({ viewport: PHONE });

  test('every main page fits the screen, keeps its key columns and has a working menu', async ({ page, server }) => {
    test.setTimeout(120_000);
    const seeded = await seedConsole(server, page);
    await addAppKey(page, server);
    for (const p of consolePages(seeded)) {
      await test.step(p.name, async () => {
        await open(page, server, p);
        await expectNoHorizontalOverflow(page);
        if (p.keyColumns) {
          for (const h of p.keyColumns.headers) await expectColumnInView(page, p.keyColumns.table, h);
        }

        // The navigation is folded behind the menu button.
        const menu = page.getByRole('button', { name: 'Menu' });
        const nav = page.getByRole('navigation', { name: 'Main' });
        await expect(menu).toBeVisible();
        await expect(menu).toHaveAttribute('aria-expanded', 'false');
        await expect(nav.getByRole('link', { name: 'Users' })).toBeHidden();
        await shot(page, `phone-${p.name}`);

        await menu.click();
        await expect(menu).toHaveAttribute('aria-expanded', 'true');
        for (const name of ['Dashboard', 'Connect', 'Users', 'Teams', 'Provisioning log', 'Integrations', 'Admins']) {
          await expect(nav.getByRole('link', { name, exact: true })).toBeVisible();
        }
        await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
        await expectNoHorizontalOverflow(page);
        await shot(page, `phone-${p.name}-menu`);
        await menu.click();
        await expect(menu).toHaveAttribute('aria-expanded', 'false');
        await expect(nav.getByRole('link', { name: 'Users' })).toBeHidden();
      });
    }
  });

  test('the menu works by keyboard and leads to another page', async ({ page, server }) => {
    server.seedOrg('acme', 'owner@acme.test');
    await signedIn(page, server);
    await hydrated(page);
    const menu = page.getByRole('button', { name: 'Menu' });
    await menu.focus();
    await page.keyboard.press('Enter');
    await expect(menu).toHaveAttribute('aria-expanded', 'true');
    // Tab moves into the menu's links, in order.
    await page.keyboard.press('Tab');
    await expect(page.getByRole('link', { name: 'Dashboard', exact: true })).toBeFocused();
    // Escape closes it and gives focus back to the button.
    await page.keyboard.press('Escape');
    await expect(menu).toHaveAttribute('aria-expanded', 'false');
    await expect(menu).toBeFocused();
    await page.keyboard.press('Space');
    await expect(menu).toHaveAttribute('aria-expanded', 'true');
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'Users' })).toBeVisible();
    // A new page starts with the menu closed.
    await expect(page.getByRole('button', { name: 'Menu' })).toHaveAttribute('aria-expanded', 'false');
  });

  test('without JavaScript the navigation is shown open', async ({ browser, page, server }) => {
    server.seedOrg('acme', 'owner@acme.test');
    await signedIn(page, server);
    const noScript = await browser.newContext({ viewport: PHONE, javaScriptEnabled: false, storageState: await page.context().storageState() });
    const p = await noScript.newPage();
    await p.goto(`${server.url}/orgs/acme/users`);
    await expect(p.getByRole('heading', { level: 1, name: 'Users' })).toBeVisible();
    await expect(p.getByRole('button', { name: 'Menu' })).toBeHidden();
    await expect(p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Teams' })).toBeVisible();
    await expect(p.getByRole('button', { name: 'Sign out' })).toBeVisible();
    await expectNoHorizontalOverflow(p);
    await noScript.close();
  });
});

test('on a desktop the navigation is always shown and there is no menu button', async ({ page, server }) => {
  server.seedOrg('acme', 'owner@acme.test');
  await signedIn(page, server);
  await hydrated(page);
  await expect(page.getByRole('button', { name: 'Menu' })).toBeHidden();
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Teams' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await expectNoHorizontalOverflow(page);
});

async function signedIn(page: Page, server: Parameters<typeof signIn>[1]) {
  await signIn(page, server, 'owner@acme.test');
  return page;
}
