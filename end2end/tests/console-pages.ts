import { Page } from '@playwright/test';
import { expect, hydrated, Server, signIn } from './fixtures';

/** A console page to visit, and the columns of its main table that must stay in view. */
export interface ConsolePage {
  name: string;
  path: string;
  heading: string | RegExp;
  /** Header texts of the key columns (the name and the status) of the page's main table. */
  keyColumns?: { table: string; headers: string[] };
}

/** Ids of the records the console pages show once `seedConsole` ran. */
export interface Seeded {
  token: string;
  userId: string;
  teamId: string;
  eventId: string;
}

/**
 * An org with what the console pages show: users (one deactivated), a team, a refused
 * SCIM request (a 4xx status pill); then signs `page` in as owner@acme.test. The event id
 * comes from the log page.
 */
export async function seedConsole(server: Server, page: Page): Promise<Seeded> {
  const token = server.seedOrg('acme', 'owner@acme.test');
  const user = (n: string, active = true) => server.scim(token, 'POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    userName: `${n}@acme.test`,
    displayName: `${n[0].toUpperCase()}${n.slice(1)} Example`,
    emails: [{ value: `${n}@acme.test`, primary: true }],
    active,
  });
  const ann = await user('ann');
  expect(ann.status).toBe(201);
  expect((await user('ben', false)).status).toBe(201);
  const team = await server.scim(token, 'POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: 'Engineering',
    members: [{ value: ann.body.id }],
  });
  expect(team.status).toBe(201);
  // A refused request: the log and the dashboard show a 4xx pill.
  expect((await server.scim(token, 'POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'] })).status).toBe(400);

  await signIn(page, server, 'owner@acme.test');
  await page.goto(`${server.url}/orgs/acme/log`);
  const first = page.getByTestId('events').locator('tbody tr a').first();
  const href = await first.getAttribute('href');
  const eventId = href!.split('/').pop()!;
  return { token, userId: ann.body.id, teamId: team.body.id, eventId };
}

/** The main console pages, with the key columns of their tables. */
export function consolePages(s: Seeded): ConsolePage[] {
  const org = '/orgs/acme';
  return [
    { name: 'dashboard', path: org, heading: 'Dashboard', keyColumns: { table: '.table', headers: ['Client', 'Status'] } },
    { name: 'connect', path: `${org}/connect`, heading: 'Connect your identity provider', keyColumns: { table: '[data-testid="tokens"]', headers: ['Label', 'State'] } },
    { name: 'users', path: `${org}/users`, heading: 'Users', keyColumns: { table: '.table', headers: ['User', 'Status'] } },
    { name: 'user', path: `${org}/users/${s.userId}`, heading: 'Ann Example' },
    { name: 'teams', path: `${org}/teams`, heading: 'Teams', keyColumns: { table: '[data-testid="teams"]', headers: ['Team', 'Members'] } },
    { name: 'team', path: `${org}/teams/${s.teamId}`, heading: 'Engineering', keyColumns: { table: '[data-testid="members"]', headers: ['User'] } },
    { name: 'log', path: `${org}/log`, heading: 'Provisioning log', keyColumns: { table: '[data-testid="events"]', headers: ['Request', 'Status'] } },
    { name: 'event', path: `${org}/log/${s.eventId}`, heading: /POST|GET|PATCH|PUT|DELETE/ },
    { name: 'integrations', path: `${org}/integrations`, heading: 'Integrations', keyColumns: { table: '[data-testid="app-keys"]', headers: ['Label', 'State'] } },
    { name: 'admins', path: `${org}/admins`, heading: 'Admins', keyColumns: { table: '[data-testid="admins"]', headers: ['Email'] } },
  ];
}

/** Makes the Integrations page show an application key (its table) once. */
export async function addAppKey(page: Page, server: Server) {
  await page.goto(`${server.url}/orgs/acme/integrations`);
  await hydrated(page);
  await page.getByLabel('Label').fill('Billing service');
  await page.getByRole('button', { name: 'Create key' }).click();
  await expect(page.getByTestId('app-key-secret')).toBeVisible();
}

/** Opens `p` and waits until it is hydrated and its heading is there. */
export async function open(page: Page, server: Server, p: ConsolePage) {
  await page.goto(`${server.url}${p.path}`);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1, name: p.heading }).first()).toBeVisible();
}
