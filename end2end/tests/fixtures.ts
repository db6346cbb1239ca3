import { test as base, expect, Page } from '@playwright/test';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'target', 'debug', 'scimgate');

export const PASSWORD = 'correct horse battery staple';

/** A scimgate on its own fresh SQLite database, seeded through the CLI. */
export class Server {
  url = '';
  private proc?: ChildProcess;
  private dir = mkdtempSync(path.join(tmpdir(), 'scimgate-e2e-'));
  readonly db = `sqlite://${this.dir}/e2e.db`;

  cli(args: string[], input = ''): string {
    const r = spawnSync(BIN, ['--database-url', this.db, '--log-level', 'error', ...args], { cwd: ROOT, input, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`scimgate ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim();
  }

  /** Webhooks may go to local receivers (a spec starts its own on 127.0.0.1). */
  async start() {
    this.proc = spawn(BIN, ['--database-url', this.db, '--log-level', 'warn', 'serve', '--addr', '127.0.0.1:0', '--webhook-allow-private'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    this.url = await new Promise<string>((resolve, reject) => {
      let out = '';
      this.proc!.stdout!.on('data', (d) => {
        out += d.toString();
        const m = out.match(/open (http:\/\/[^\s]+?)\/?\s/);
        if (m) resolve(m[1]);
      });
      this.proc!.on('exit', (code) => reject(new Error(`scimgate exited with ${code}`)));
      setTimeout(() => reject(new Error('scimgate did not start')), 20_000);
    });
  }

  stop() {
    this.proc?.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** org + admin + SCIM token; returns the token. */
  seedOrg(login: string, email: string): string {
    this.cli(['org', 'create', login, '--name', `${login.toUpperCase()} Corp`]);
    this.cli(['admin', 'create', '--org', login, '--email', email], PASSWORD + '\n');
    return this.cli(['token', 'create', '--org', login, '--label', 'Okta (seed)']);
  }

  async scim(token: string, method: string, p: string, body?: unknown, org = 'acme') {
    const r = await fetch(`${this.url}/scim/v2/${org}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json', 'user-agent': 'Okta SCIM Client 1.0' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }
}

export const test = base.extend<{ server: Server }>({
  server: async ({}, use) => {
    const s = new Server();
    await s.start();
    await use(s);
    s.stop();
  },
});

export { expect };

export async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

export async function signIn(page: Page, server: Server, email: string) {
  await page.goto(`${server.url}/sign-in`);
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
}
