import { test, expect, hydrated, signIn, shot } from './fixtures';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { spawnSync } from 'node:child_process';

type Delivery = { headers: http.IncomingHttpHeaders; body: string };

/** A webhook receiver on 127.0.0.1 (a random port) that answers 200 and keeps what it got. */
async function startReceiver(): Promise<{ url: string; got: Delivery[]; close: () => void }> {
  const got: Delivery[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('received');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, got, close: () => server.close() };
}

/** Standard Webhooks: v1,base64(HMAC-SHA256(base64-decoded secret, "id.timestamp.body")). */
function signature(secret: string, d: Delivery): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = `${d.headers['webhook-id']}.${d.headers['webhook-timestamp']}.${d.body}`;
  return 'v1,' + createHmac('sha256', key).update(signed).digest('base64');
}

test('a webhook endpoint shows its secret once and its signed deliveries appear without a reload; resend and remove', async ({ page, server }) => {
  const receiver = await startReceiver();
  try {
    const token = server.seedOrg('acme', 'owner@acme.test');
    await signIn(page, server, 'owner@acme.test');
    await page.getByRole('link', { name: 'Integrations' }).click();
    await expect(page.getByRole('heading', { name: 'Webhook endpoints' })).toBeVisible();
    await hydrated(page);
    const section = page.getByTestId('webhooks');
    await expect(section.getByText('No webhook endpoint yet')).toBeVisible();

    // Added: the signing secret shown once, with a copy button and how to verify.
    await page.getByLabel('URL', { exact: true }).fill(receiver.url);
    await page.getByLabel('Description').fill('Local receiver');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const secretEl = page.getByTestId('webhook-secret');
    await expect(secretEl).toBeVisible();
    const secret = (await secretEl.textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    const shown = page.getByTestId('new-webhook');
    await expect(shown).toContainText('This is shown once');
    await expect(shown.getByRole('button', { name: 'Copy' })).toBeVisible();
    await expect(shown).toContainText('webhook-signature');
    await expect(shown).toContainText('webhook-timestamp');
    await expect(shown).toContainText('webhook-id');
    await expect(shown.getByRole('link', { name: 'Standard Webhooks' })).toBeVisible();

    const endpoints = page.getByTestId('webhook-endpoints');
    await expect(endpoints).toContainText(receiver.url);
    await expect(endpoints).toContainText('all events');
    await expect(endpoints).toContainText('active');
    await expect(endpoints).toContainText('never');
    expect(await endpoints.textContent()).not.toContain(secret);

    // A user pushed over SCIM: delivered to the receiver, signed, and listed on its own
    // (the secret still on screen proves the page was not reloaded).
    const u = await server.scim(token, 'POST', '/Users', { userName: 'dana@acme.test', active: true });
    expect(u.status).toBe(201);
    const delivered = endpoints.locator('tr[data-outcome="delivered"]');
    await expect(delivered).toHaveCount(1, { timeout: 20_000 });
    await expect(delivered).toContainText('user.created');
    await expect(delivered).toContainText('200');
    await expect(delivered).toContainText('received');
    await expect(secretEl).toHaveText(secret);
    await shot(page, 'webhooks');

    expect(receiver.got.length).toBe(1);
    const d = receiver.got[0];
    expect(d.headers['webhook-id']).toBeTruthy();
    expect(d.headers['webhook-timestamp']).toMatch(/^\d+$/);
    expect(String(d.headers['webhook-signature']).split(' ')).toContain(signature(secret, d));
    const payload = JSON.parse(d.body);
    expect(payload.type).toBe('user.created');
    expect(d.body).toContain(u.body.id);

    // Resent: delivered once more, listed as resent.
    await delivered.getByRole('button', { name: 'Resend' }).click();
    await expect(endpoints.locator('tr[data-outcome="resent"]')).toHaveCount(1, { timeout: 20_000 });
    expect(receiver.got.length).toBe(2);
    expect(receiver.got[1].headers['webhook-id']).toBe(d.headers['webhook-id']);

    // After a reload the secret is gone; the deliveries are still listed.
    await page.reload();
    await hydrated(page);
    await expect(page.getByTestId('webhook-secret')).toHaveCount(0);
    expect(await page.content()).not.toContain(secret);
    await expect(page.getByTestId('webhook-endpoints').locator('tr[data-outcome="delivered"]')).toHaveCount(1);

    // Removed, behind a confirmation.
    const row = page.getByTestId('webhook-endpoint');
    await row.getByRole('button', { name: 'Remove' }).click();
    await row.getByRole('button', { name: 'Confirm remove' }).click();
    await expect(page.getByTestId('webhooks').getByText('No webhook endpoint yet')).toBeVisible();
    await shot(page, 'webhooks-removed');
  } finally {
    receiver.close();
  }
});

test('a webhook URL that is not allowed is refused with a message, and nothing is added', async ({ page, server }) => {
  server.seedOrg('acme', 'owner@acme.test');
  await signIn(page, server, 'owner@acme.test');
  await page.goto(`${server.url}/orgs/acme/integrations`);
  await hydrated(page);
  await page.getByLabel('URL', { exact: true }).fill('ftp://hooks.example.com/x');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.getByTestId('webhooks').getByRole('alert')).toContainText('https');
  await expect(page.getByTestId('webhook-secret')).toHaveCount(0);
  await expect(page.getByTestId('webhooks').getByText('No webhook endpoint yet')).toBeVisible();
});

// The deliverer disables an endpoint only after hours of failures: the spec marks one
// disabled in the database directly (with the sqlite3 command-line tool, when present).
const hasSqlite3 = spawnSync('sqlite3', ['-version']).status === 0;

test('a disabled endpoint is flagged on the dashboard, which links to Integrations, where it is enabled again', async ({ page, server }) => {
  // CI installs sqlite3 (.ci/install-tools); elsewhere the test says why it did not run.
  test.skip(!hasSqlite3 && !process.env.CI, 'needs the sqlite3 command-line tool');
  server.seedOrg('acme', 'owner@acme.test');
  server.cli(['webhook', 'create', '--org', 'acme', '--url', 'https://hooks.example.com/scimgate']);
  const sql = "UPDATE webhook_endpoints SET disabled_at = CAST(strftime('%s','now') AS INTEGER) * 1000, " +
    "failing_since = CAST(strftime('%s','now') AS INTEGER) * 1000 - 3 * 86400000, " +
    "disabled_reason = 'No successful delivery for 72 hours.'";
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', server.db.replace(/^sqlite:\/\//, ''), sql], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);

  await signIn(page, server, 'owner@acme.test');
  await hydrated(page);
  const warning = page.getByTestId('webhooks-disabled-warning');
  await expect(warning).toContainText('1 webhook endpoint was disabled');
  await shot(page, 'dashboard-webhook-disabled');
  await warning.getByRole('link').click();
  await expect(page.getByRole('heading', { name: 'Integrations', level: 1 })).toBeVisible();
  await hydrated(page);
  const row = page.getByTestId('webhook-endpoint');
  await expect(row).toContainText('https://hooks.example.com/scimgate');
  await expect(row).toContainText('disabled');
  await expect(row).toContainText('No successful delivery for 72 hours.');
  await row.getByRole('button', { name: 'Enable' }).click();
  await expect(row.locator('tr[data-state="active"]')).toHaveCount(1);
  await expect(row.getByRole('button', { name: 'Enable' })).toHaveCount(0);

  await page.getByRole('link', { name: 'Dashboard' }).click();
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expect(page.getByTestId('users-active')).toBeVisible();
  await expect(page.getByTestId('webhooks-disabled-warning')).toHaveCount(0);
});
