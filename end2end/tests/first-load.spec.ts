import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Page, Request } from '@playwright/test';
import { test, expect, hydrated, signIn, shot, PASSWORD } from './fixtures';

/** The client profile .ci/build wrote into the site's manifest (debug or wasm-release). */
function clientProfile(): string {
  const manifest = readFileSync(path.resolve(__dirname, '..', '..', 'target', 'site', 'hash.txt'), 'utf8');
  return manifest.match(/^profile:\s*(\S+)/m)?.[1] ?? 'unknown';
}

/** The hashed bundle names the page links. */
function bundleNames(html: string) {
  const pick = (ext: string) => html.match(new RegExp(`/pkg/scimgate\\.[0-9a-f]{16}\\.${ext}`))?.[0];
  return { js: pick('js'), wasm: pick('wasm'), css: pick('css') };
}

test('the bundle has content-hashed names, is served precompressed and kept for a year; pages are not', async ({ request, server }) => {
  server.seedOrg('acme', 'owner@acme.test');
  const page = await request.get(`${server.url}/sign-in`);
  expect(page.status()).toBe(200);
  expect(page.headers()['cache-control']).toBe('no-store');
  const names = bundleNames(await page.text());
  expect(names.js, 'hashed JS linked').toBeTruthy();
  expect(names.wasm, 'hashed WASM linked').toBeTruthy();
  expect(names.css, 'hashed CSS linked').toBeTruthy();

  for (const name of [names.js!, names.wasm!, names.css!]) {
    const identity = await request.get(`${server.url}${name}`, { headers: { 'accept-encoding': 'identity' } });
    expect(identity.status(), name).toBe(200);
    expect(identity.headers()['content-encoding']).toBeUndefined();
    const raw = (await identity.body()).length;
    for (const encoding of ['br', 'gzip']) {
      const r = await request.get(`${server.url}${name}`, { headers: { 'accept-encoding': encoding } });
      expect(r.status(), `${name} ${encoding}`).toBe(200);
      expect(r.headers()['content-encoding']).toBe(encoding);
      expect(r.headers()['vary']?.toLowerCase()).toContain('accept-encoding');
      expect(r.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
      // The client decodes it: the same bytes as the identity answer.
      expect((await r.body()).length).toBe(raw);
      if (name.endsWith('.wasm')) {
        expect(r.headers()['content-type']).toBe('application/wasm');
      }
    }
    const both = await request.get(`${server.url}${name}`, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(both.headers()['content-encoding']).toBe('br');
  }
  // The old fixed names are gone: nothing can be cached under a name whose content changes.
  expect((await request.get(`${server.url}/pkg/scimgate.wasm`)).status()).toBe(404);
  // Files under fixed names are revalidated before use.
  const icon = await request.get(`${server.url}/favicon.ico`);
  expect(icon.status()).toBe(200);
  expect(icon.headers()['cache-control']).toBe('no-cache');
  expect(icon.headers()['content-type']).toMatch(/icon/);
});

/** Bytes on the wire (headers and encoded bodies) of everything `page` loads from now on. */
function countTransfer(page: Page) {
  const requests: Request[] = [];
  page.on('requestfinished', (r) => requests.push(r));
  return async () => {
    let total = 0;
    const rows: string[] = [];
    for (const r of requests) {
      const s = await r.sizes();
      const n = s.responseBodySize + s.responseHeadersSize;
      total += n;
      rows.push(`${n.toString().padStart(9)}  ${r.url()}`);
    }
    return { total, rows, requests };
  };
}

test('a console page\'s first load transfers well under 1 MB', async ({ browser, page, server }) => {
  server.seedOrg('acme', 'owner@acme.test');
  await signIn(page, server, 'owner@acme.test');
  // A first visit: an empty cache, only the session cookie, a browser that takes br and gzip.
  const fresh = await browser.newContext({
    storageState: await page.context().storageState(),
    extraHTTPHeaders: { 'accept-encoding': 'br, gzip' },
  });
  const p = await fresh.newPage();
  const transfer = countTransfer(p);
  await p.goto(`${server.url}/orgs/acme/users`);
  await hydrated(p);
  await expect(p.getByRole('heading', { level: 1, name: 'Users' })).toBeVisible();
  const { total, rows, requests } = await transfer();
  const report = `${total} bytes transferred:\n${rows.join('\n')}`;
  test.info().annotations.push({ type: 'first load', description: report });
  console.log(`first load of /orgs/acme/users (client: ${clientProfile()}): ${report}`);

  // Every bundle file came compressed.
  const bundle = requests.filter((r) => new URL(r.url()).pathname.startsWith('/pkg/'));
  expect(bundle.length).toBeGreaterThanOrEqual(3);
  for (const r of bundle) {
    const res = await r.response();
    expect(res!.headers()['content-encoding'], r.url()).toBe('br');
  }
  // The budget is for the bundle that ships (wasm-release + wasm-opt: what `.ci/test` builds
  // with --release-client). A debug client is ~20 MB of WASM (~2 MB compressed) and cannot
  // meet it; there only the compression above is checked.
  test.skip(clientProfile() === 'debug', 'debug client: build with `.ci/build --release-client` to check the size budget');
  expect(total, report).toBeLessThan(1_000_000);
  await fresh.close();
});

test.describe('a form that shows a secret once cannot be sent before the page is interactive', () => {
  test('its button is disabled until hydration, and enabled after', async ({ browser, page, server }) => {
    server.seedOrg('acme', 'owner@acme.test');
    await signIn(page, server, 'owner@acme.test');
    const state = await page.context().storageState();

    // JavaScript on, but the WASM never arrives: the page is server-rendered only.
    const stalled = await browser.newContext({ storageState: state });
    const s = await stalled.newPage();
    await s.route('**/*.wasm', () => { /* never answered */ });
    await s.goto(`${server.url}/orgs/acme/integrations`);
    await expect(s.getByRole('heading', { level: 1, name: 'Integrations' })).toBeVisible();
    await expect(s.getByRole('button', { name: 'Create key' })).toBeDisabled();
    await expect(s.getByRole('button', { name: 'Add endpoint' })).toBeDisabled();
    await s.goto(`${server.url}/orgs/acme/admins`);
    await expect(s.getByRole('button', { name: 'Invite' })).toBeDisabled();
    await shot(s, 'admins-before-hydration');
    await stalled.close();

    // JavaScript off: the same.
    const noScript = await browser.newContext({ storageState: state, javaScriptEnabled: false });
    const n = await noScript.newPage();
    await n.goto(`${server.url}/orgs/acme/integrations`);
    await expect(n.getByRole('button', { name: 'Create key' })).toBeDisabled();
    await expect(n.getByRole('button', { name: 'Add endpoint' })).toBeDisabled();
    await n.goto(`${server.url}/orgs/acme/admins`);
    await expect(n.getByRole('button', { name: 'Invite' })).toBeDisabled();
    await noScript.close();

    // Hydrated: usable.
    await page.goto(`${server.url}/orgs/acme/integrations`);
    await hydrated(page);
    await expect(page.getByRole('button', { name: 'Create key' })).toBeEnabled();
    await expect(page.getByRole('button', { name: 'Add endpoint' })).toBeEnabled();
    await page.goto(`${server.url}/orgs/acme/admins`);
    await hydrated(page);
    await expect(page.getByRole('button', { name: 'Invite' })).toBeEnabled();
  });

  test('a plain post of the token form creates nothing and says so', async ({ browser, page, server }) => {
    server.seedOrg('acme', 'owner@acme.test');
    await signIn(page, server, 'owner@acme.test');
    // Where the token form posts (its action), read from the hydrated page's dialog.
    await page.goto(`${server.url}/orgs/acme/connect`);
    await hydrated(page);
    await page.getByTestId('open-token-dialog').first().click();
    const action = await page.locator('form:has(input[name="label"])').getAttribute('action');
    expect(action).toBeTruthy();
    await page.getByRole('button', { name: 'Cancel' }).click();
    // Without script the dialog cannot open: its button says so by being disabled.
    const noScript = await browser.newContext({ storageState: await page.context().storageState(), javaScriptEnabled: false });
    const n = await noScript.newPage();
    await n.goto(`${server.url}/orgs/acme/connect`);
    await expect(n.getByTestId('open-token-dialog').first()).toBeDisabled();
    await shot(n, 'token-form-without-script');
    // And a plain HTML form post (as a browser sends one) is refused before anything runs.
    const answer = await n.request.post(`${server.url}${action}`, {
      form: { org: 'acme', label: 'Sent without script' },
      headers: { Accept: 'text/html' },
    });
    expect(answer.status()).toBe(409);
    expect(await answer.text()).toContain('Nothing was created');
    await noScript.close();
    // No token was made: the list still has only the seed's.
    await page.goto(`${server.url}/orgs/acme/connect`);
    await hydrated(page);
    await expect(page.getByTestId('tokens')).toContainText('Okta (seed)');
    await expect(page.getByTestId('tokens')).not.toContainText('Sent without script');
  });
});

test('pages link a favicon that loads, and nothing they load fails', async ({ page, server }) => {
  server.seedOrg('acme', 'owner@acme.test');
  const failed: string[] = [];
  page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`); });
  await signIn(page, server, 'owner@acme.test');
  const icons = await page.locator('link[rel="icon"]').evaluateAll((ls) => ls.map((l) => (l as HTMLLinkElement).href));
  expect(icons.length).toBeGreaterThan(0);
  for (const href of icons) {
    expect((await page.request.get(href)).status(), href).toBe(200);
  }
  // Chromium asks for /favicon.ico on its own as well.
  expect((await page.request.get(`${server.url}/favicon.ico`)).status()).toBe(200);
  expect(failed).toEqual([]);
});

test('the first-run page\'s org login pattern is a valid expression and checks the login', async ({ page, server }) => {
  const problems: string[] = [];
  page.on('console', (m) => { if (/pattern/i.test(m.text())) problems.push(m.text()); });
  await page.goto(`${server.url}/setup`);
  await hydrated(page);
  const login = page.getByLabel('Organization login');
  const mismatch = async (value: string) => {
    await login.fill(value);
    return login.evaluate((el) => (el as HTMLInputElement).validity.patternMismatch);
  };
  // A pattern the browser cannot compile is ignored, and nothing would mismatch.
  expect(await mismatch('Acme')).toBe(true);
  expect(await mismatch('-acme')).toBe(true);
  expect(await mismatch('acme-')).toBe(true);
  expect(await mismatch('a')).toBe(true);
  expect(await mismatch('acme')).toBe(false);
  expect(await mismatch('acme-co-2')).toBe(false);
  expect(problems).toEqual([]);
  // And the page still creates the org with a valid login.
  await login.fill('acme');
  await page.getByLabel('Your email').fill('owner@acme.test');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create organization' }).click();
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
});
