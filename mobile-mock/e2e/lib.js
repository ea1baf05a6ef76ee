// Helpers of the browser test: Chromium, phone-sized pages, API calls made as
// the operator (or to prepare a resident), times in the town's time zone, and
// screenshots on failure.

import { test } from 'node:test';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { chromium } from 'playwright-core';

export const BASE_URL = process.env.BASE_URL || 'http://127.0.0.1:8080';
export const PASSWORD = 'hongqi-e2e-pass-2026';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(HERE, 'artifacts');
const SCREENSHOTS = path.join(HERE, '..', 'screenshots');
export const TAKE_SCREENSHOTS = process.env.SCREENSHOTS === '1';

/** launch starts Debian's Chromium, headless. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync'],
  });
}

/**
 * journey runs a browser test; phone() inside it opens a phone-sized page,
 * and when the test fails every page it opened is captured in artifacts/.
 */
export function journey(name, fn, { timeout = 90_000 } = {}) {
  test(name, { timeout }, async () => {
    const pages = [];
    const browser = journey.browser;
    const phone = async ({ lang = 'zh' } = {}) => {
      const context = await browser.newContext({
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 1,
        isMobile: true,
        hasTouch: true,
        locale: lang === 'en' ? 'en-GB' : 'zh-CN',
        timezoneId: 'Asia/Shanghai',
      });
      context.setDefaultTimeout(15_000);
      const page = await context.newPage();
      page.on('pageerror', (e) => console.error(`[${name}] page error: ${e.message}`));
      page.on('console', (m) => {
        // Refused calls (401, 404, 409) are part of the journeys; other errors are not.
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) console.error(`[${name}] console: ${m.text()}`);
      });
      pages.push(page);
      return page;
    };
    try {
      await fn({ phone });
    } catch (err) {
      mkdirSync(ARTIFACTS, { recursive: true });
      const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 60);
      for (const [i, page] of pages.entries()) {
        const file = path.join(ARTIFACTS, `${slug}-${i + 1}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
        console.error(`screenshot of the failure: ${file} (${page.url()})`);
      }
      throw err;
    } finally {
      for (const page of pages) await page.context().close().catch(() => {});
    }
  });
}

/** shot writes one of the committed screenshots when SCREENSHOTS=1. */
export async function shot(page, name, { top = true } = {}) {
  if (!TAKE_SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.evaluate(async (toTop) => {
    await document.fonts.ready;
    document.getElementById('toast').hidden = true;
    if (toTop) window.scrollTo(0, 0);
  }, top);
  await page.waitForTimeout(150); // let the page settle
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/** api calls the API directly (for what an operator does, or to prepare a resident). */
export async function api(method, urlPath, { body, token, key } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  if (key) headers['Idempotency-Key'] = key;
  const res = await fetch(BASE_URL + urlPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(`${method} ${urlPath}: ${res.status} ${text}`);
  return data;
}

let operatorToken = null;

/** operator signs in as the demo operator once. */
export async function operator() {
  if (!operatorToken) {
    const s = await api('POST', '/v1/auth/login', { body: { email: 'operator@hongqi.town', password: 'hongqi-demo-2026' } });
    operatorToken = s.tokens.access_token;
  }
  return operatorToken;
}

/** approveLicence approves a resident's pending licence, as an operator does. */
export async function approveLicence(email) {
  const token = await operator();
  const users = await api('GET', `/v1/admin/users?email=${encodeURIComponent(email)}`, { token });
  const user = users.items.find((u) => u.email === email);
  if (!user) throw new Error(`no account ${email}`);
  return api('POST', `/v1/admin/users/${user.id}/driving-licence/decision`, { token, body: { decision: 'approve' } });
}

/** uniqueEmail is a fresh address for a new resident. */
export function uniqueEmail(who) {
  return `${who}-${randomUUID().slice(0, 8)}@example.cn`;
}

/**
 * readyResident signs a resident up through the API with an approved licence
 * and a saved card, for the tests whose subject comes after onboarding.
 */
export async function readyResident(who) {
  const email = uniqueEmail(who);
  const s = await api('POST', '/v1/auth/register', { body: { email, password: PASSWORD, display_name: who, phone: '+8613900001111' } });
  const token = s.tokens.access_token;
  await api('PUT', '/v1/me/driving-licence', { token, body: { number: '220102199001012222', issuing_region: 'CN-JL', expires_on: '2032-01-01' } });
  await approveLicence(email);
  await api('POST', '/v1/me/payment-methods/setup-intent', { token, key: randomUUID(), body: { payment_method: 'pm_card_visa' } });
  const cards = await api('GET', '/v1/me/payment-methods', { token });
  if (!cards.items.some((c) => c.is_default)) throw new Error(`${email}: the card was not saved`);
  return { email, token };
}

/** signIn signs in through the app's own form. */
export async function signIn(page, email) {
  await page.goto(`${BASE_URL}/app#/login`);
  await page.getByTestId('email').fill(email);
  await page.getByTestId('password').fill(PASSWORD);
  await page.getByTestId('signin').click();
  await page.getByTestId('search').waitFor();
}

/** townInput renders a moment for a datetime-local field in the town's time. */
export function townInput(ms) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** nextMinute is the next whole minute from now, in ms. */
export function nextMinute() {
  return Math.ceil((Date.now() + 1000) / 60_000) * 60_000;
}

/** search fills the search form of the app and runs it. */
export async function search(page, { zone = 'faw-hq', start, minutes = 60 }) {
  const edit = page.getByTestId('edit-search');
  if (await edit.isVisible()) await edit.click();
  await page.getByTestId(`zone-${zone}`).click();
  await page.getByTestId('start').fill(townInput(start));
  await page.getByTestId('end').fill(townInput(start + minutes * 60_000));
  await page.getByTestId('search').click();
  await page.getByTestId('results-count').waitFor();
}

/** session reads the tokens the app keeps. */
export function appSession(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('hq.session') || 'null'));
}

/** money formats fen as the app shows it. */
export function money(fen) {
  const yuan = Math.floor(Math.abs(fen) / 100).toLocaleString('en-US');
  return `${fen < 0 ? '-' : ''}¥${yuan}.${String(Math.abs(fen) % 100).padStart(2, '0')}`;
}
