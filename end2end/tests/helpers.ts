import { expect, Page } from '@playwright/test';

/** Waits until the WASM has hydrated the page; clicks before that would be lost. */
export async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

export const ADMIN_EMAIL = 'owner@acme.test';
export const ADMIN_PASSWORD = 'correct horse battery staple';

export async function signIn(page: Page, email: string, password: string) {
  await page.goto('/sign-in');
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
