import AxeBuilder from '@axe-core/playwright';
import { Page } from '@playwright/test';
import { test, expect, hydrated, Server, shot } from './fixtures';
import { addAppKey, consolePages, open, seedConsole } from './console-pages';

const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };

/** Serious and critical axe violations on the page as it is now, one line each. */
async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(' ')} — ${n.failureSummary?.replace(/\s+/g, ' ')}`));
}

/** WCAG contrast ratio of two `rgb(…)` colours. */
function contrast(a: string, b: string): number {
  const lum = (c: string) => {
    const [r, g, bl] = c.match(/[\d.]+/g)!.slice(0, 3).map((x) => {
      const v = Number(x) / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

for (const [device, viewport] of Object.entries(VIEWPORTS)) {
  test.describe(`accessibility on a ${device}`, () => {
    test.use({ viewport });

    test('the first-run, sign-in, join and not-found pages have no serious or critical axe violation', async ({ page, server }) => {
      const found: string[] = [];
      for (const p of ['/setup', '/sign-in', '/join', '/no-such-page']) {
        if (p === '/sign-in') server.seedOrg('acme', 'owner@acme.test');
        await page.goto(`${server.url}${p}`);
        await hydrated(page);
        await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
        found.push(...(await seriousViolations(page)).map((v) => `${p}: ${v}`));
        await shot(page, `${device}${p.replace(/\//g, '-')}`);
      }
      expect(found).toEqual([]);
    });

    test('every console page has no serious or critical axe violation', async ({ page, server }) => {
      test.setTimeout(120_000);
      const seeded = await seedConsole(server, page);
      await addAppKey(page, server);
      await invite(page, server);
      const found: string[] = [];
      for (const p of consolePages(seeded)) {
        await open(page, server, p);
        found.push(...(await seriousViolations(page)).map((v) => `${p.name}: ${v}`));
        if (device === 'phone') {
          await page.getByRole('button', { name: 'Menu' }).click();
          found.push(...(await seriousViolations(page)).map((v) => `${p.name} (menu open): ${v}`));
        }
      }
      expect(found).toEqual([]);
    });
  });
}

async function invite(page: Page, server: Server) {
  await page.goto(`${server.url}/orgs/acme/admins`);
  await hydrated(page);
  await page.getByLabel('Email').fill('new@acme.test');
  await page.getByRole('button', { name: 'Invite' }).click();
  await expect(page.getByTestId('invitation')).toBeVisible();
}

test('keyboard focus is a ring of at least 3:1 against what surrounds it', async ({ page, server }) => {
  server.seedOrg('acme', 'owner@acme.test');
  await page.goto(`${server.url}/sign-in`);
  await hydrated(page);
  // Each kind of control, reached with the keyboard so that :focus-visible applies.
  const seen: string[] = [];
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press('Tab');
    const ring = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const s = getComputedStyle(el);
      // The colour around the ring: the nearest ancestor with a background.
      let bg = 'rgb(255, 255, 255)';
      for (let a = el.parentElement; a; a = a.parentElement) {
        const c = getComputedStyle(a).backgroundColor;
        if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') { bg = c; break; }
      }
      return { tag: el.tagName, style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor, offset: parseFloat(s.outlineOffset), bg, own: s.backgroundColor };
    });
    if (ring.tag === 'BODY') continue;
    seen.push(ring.tag);
    expect(ring.style, ring.tag).not.toBe('none');
    expect(ring.width, ring.tag).toBeGreaterThanOrEqual(2);
    expect(contrast(ring.color, ring.bg), `${ring.tag} ring ${ring.color} on ${ring.bg}`).toBeGreaterThanOrEqual(3);
    // Offset from the control, the ring touches the surrounding colour, not the control's own.
    expect(ring.offset, ring.tag).toBeGreaterThan(0);
  }
  expect(seen).toEqual(expect.arrayContaining(['INPUT', 'BUTTON', 'A']));
  await shot(page, 'focus-ring');
});

test('status pills and badges have text of at least 4.5:1', async ({ page, server }) => {
  const seeded = await seedConsole(server, page);
  const checked: string[] = [];
  for (const path of ['/orgs/acme/log', '/orgs/acme/users', '/orgs/acme', `/orgs/acme/users/${seeded.userId}`]) {
    await page.goto(`${server.url}${path}`);
    await hydrated(page);
    const pairs = await page.locator('.pill, .badge').evaluateAll((els) => els.map((el) => {
      const s = getComputedStyle(el);
      return { cls: el.className, text: el.textContent, color: s.color, bg: s.backgroundColor };
    }));
    for (const p of pairs) {
      checked.push(p.cls);
      expect(contrast(p.color, p.bg), `${path}: ${p.cls} "${p.text}" ${p.color} on ${p.bg}`).toBeGreaterThanOrEqual(4.5);
    }
  }
  // The ones that were below AA before: a 4xx pill, an active and a deactivated badge.
  expect(checked).toEqual(expect.arrayContaining(['pill pill-warn', 'badge badge-active', 'badge badge-revoked']));
});
