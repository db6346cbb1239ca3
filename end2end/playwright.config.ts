import { defineConfig } from '@playwright/test';

// Browsers are never downloaded here: Debian's Chromium is used (see README).
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const PORT = Number(process.env.SCIMGATE_E2E_PORT ?? 3111);

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list'], ['./summary-reporter.ts']],
  outputDir: './test-results',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    screenshot: 'on',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: chromiumArgs,
    },
  },
  // The shared server runs on a fresh temporary SQLite database; specs that need a
  // database of their own start one with the `freshServer` fixture.
  webServer: {
    command: `bash -c 'D=$(mktemp -d) && exec ./target/debug/scimgate serve --addr 127.0.0.1:${PORT} --webhook-allow-private --database-url "sqlite://$D/e2e.db"'`,
    cwd: '..',
    url: `http://127.0.0.1:${PORT}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
