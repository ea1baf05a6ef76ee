// The resident journey in a real browser, against a real server, PostgreSQL
// and stripe-mock (started by run.sh): sign up → licence approved by an
// operator → card saved → search → quote → book → unlock → extend → return →
// receipt; cancelling with the fee shown first; two phones racing for one
// car; and the token refresh flow.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_URL, PASSWORD, journey, launch, shot, api, approveLicence, uniqueEmail, readyResident, signIn,
  search, nextMinute, appSession, money,
} from './lib.js';

before(async () => {
  journey.browser = await launch();
});

after(async () => {
  await journey.browser?.close();
});

/** reservation reads a booking through the API with the app's own token. */
async function reservation(page, id) {
  const s = await appSession(page);
  return api('GET', `/v1/reservations/${id}`, { token: s.access });
}

function bookingId(page) {
  const m = /#\/booking\/([0-9a-f-]{36})/.exec(page.url());
  assert.ok(m, `not on a booking screen: ${page.url()}`);
  return m[1];
}

journey('sign up, licence, card, search, quote, book, unlock, extend, return, receipt', async ({ phone }) => {
  const page = await phone();
  const email = uniqueEmail('li-lei');

  // Sign up: the app opens on sign-in, in Chinese.
  await page.goto(`${BASE_URL}/app`);
  await page.getByTestId('signin').waitFor();
  assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
  await page.getByTestId('to-signup').click();
  await page.getByTestId('name').fill('李雷');
  await page.getByTestId('email').fill(email);
  await page.getByTestId('phone').fill('13800138000');
  await page.getByTestId('password').fill(PASSWORD);
  await page.getByTestId('signup').click();
  await page.getByTestId('me-name').filter({ hasText: '李雷' }).waitFor();

  // Driving licence: submitted, pending, approved by an operator.
  await page.getByTestId('to-licence').click();
  await page.getByTestId('licence-number').fill('220102199001011111');
  await page.getByTestId('licence-submit').click();
  await page.locator('[data-testid="licence-status"][data-status="pending"]').waitFor();
  await approveLicence(email);
  await page.getByTestId('licence-refresh').click();
  await page.locator('[data-testid="licence-status"][data-status="approved"]').waitFor();

  // Search near FAW HQ, starting at the next whole minute so the car can be unlocked at once.
  await page.locator('.tabbar a[data-tab="search"]').click();
  await page.getByTestId('search').waitFor();
  await shot(page, 'search');
  const start = nextMinute();
  await search(page, { zone: 'faw-hq', start, minutes: 60 });
  const offers = page.getByTestId('offer');
  assert.ok(await offers.count() > 0, 'no car found near FAW HQ');
  const first = offers.first();
  assert.match(await first.getByTestId('offer-distance').innerText(), /\d+(\.\d)? k?m/);
  assert.match(await first.getByTestId('offer-energy').innerText(), /续航 \d+ km/);
  assert.match(await first.getByTestId('offer-price').innerText(), /^¥\d+\.\d{2}$/);
  const searchPrice = await first.getByTestId('offer-price').innerText();
  assert.ok(await page.locator('[data-testid="map"] circle.car').count() > 0, 'the map shows no car');
  await shot(page, 'search-results');

  // The car's itemized quote; without a saved card the app does not book.
  await first.click();
  const quoteTotal = page.getByTestId('quote-price-total');
  await quoteTotal.waitFor();
  assert.equal(await quoteTotal.innerText(), searchPrice, 'the quote differs from the search price');
  assert.equal(await page.locator('[data-testid="quote-price"] tr[data-code="unlock_fee"]').count(), 1, 'no unlock fee line');
  await page.getByTestId('need-card').waitFor();
  assert.ok(await page.getByTestId('book').isDisabled(), 'booking offered without a card');

  // A card: Stripe's test card through the SetupIntent flow; then back to the car.
  await page.getByTestId('need-card').click();
  await page.getByTestId('add-card').click();
  await page.locator('[data-testid="card"][data-default="true"]').filter({ hasText: '4242' }).waitFor();
  await page.goBack();
  await page.getByTestId('pay-with').waitFor();
  await page.locator('[data-testid="book"]:not([disabled])').waitFor();
  await shot(page, 'quote');

  // Book: confirmed at once with the saved card (an off-session authorisation).
  await page.getByTestId('book').click();
  await page.locator('[data-testid="status"][data-status="confirmed"]').waitFor();
  const id = bookingId(page);
  let r = await reservation(page, id);
  assert.equal(r.status, 'confirmed');
  assert.equal(r.payment.status, 'authorized');
  assert.match(await page.getByTestId('payment').innerText(), new RegExp(money(r.quote.total).replace(/[.$]/g, '\\$&')));

  // Unlock: the active trip with its clock and running price.
  await page.getByTestId('unlock').click();
  await page.locator('[data-testid="status"][data-status="active"]').waitFor();
  const elapsed = page.getByTestId('elapsed');
  const t0 = await elapsed.innerText();
  assert.match(t0, /^0:00:\d\d$/);
  await page.waitForFunction((before) => document.querySelector('[data-testid="elapsed"]').textContent !== before, t0);
  assert.equal(await page.getByTestId('running-price').innerText(), money(r.quote.total));
  await shot(page, 'active-trip');

  // Extend by 30 minutes.
  const windowBefore = await page.getByTestId('booking-window').innerText();
  await page.getByTestId('extend').click();
  await page.getByTestId('extend-30').click();
  await page.waitForFunction((before) => document.querySelector('[data-testid="booking-window"]')?.textContent !== before, windowBefore);
  r = await reservation(page, id);
  assert.equal(Date.parse(r.end) - Date.parse(r.start), 90 * 60_000, 'the booking was not extended by 30 minutes');
  assert.equal(r.payment.amount_authorized, r.quote.total, 'the hold was not raised to the extended price');
  assert.equal(await page.getByTestId('running-price').innerText(), money(r.quote.total));

  // Return at FAW HQ: the receipt shows the final lines and price.
  const fawHQ = await page.locator('[data-testid="return-place"] option', { hasText: '一汽总部站' }).getAttribute('value');
  await page.getByTestId('return-place').selectOption(fawHQ);
  await page.getByTestId('end-trip').click();
  await page.getByTestId('confirm-end').click();
  await page.locator('[data-testid="status"][data-status="completed"]').waitFor();
  await page.getByTestId('receipt').waitFor();
  r = await reservation(page, id);
  assert.equal(r.status, 'completed');
  assert.ok(r.final && r.final.total > 0, 'no final price');
  assert.equal(await page.getByTestId('receipt-price-total').innerText(), money(r.final.total));
  assert.equal(await page.locator('[data-testid="receipt-price"] tbody tr').count(), r.final.lines.filter((l) => l.code !== 'vat').length);
  await shot(page, 'receipt');

  // My trips: the trip is in the past ones, completed.
  await page.locator('.tabbar a[data-tab="trips"]').click();
  await page.getByTestId('tab-past').click();
  await page.locator(`[data-testid="trip"][data-id="${id}"][data-status="completed"]`).waitFor();
  await shot(page, 'trips');
});

journey('cancelling shows the fee before confirming, then charges it', async ({ phone }) => {
  const { email } = await readyResident('han-meimei');
  const page = await phone();
  await signIn(page, email);
  // Starting within the plan's free-cancellation cut-off (2 hours), so a fee applies.
  await search(page, { zone: 'dongfeng-st', start: nextMinute() + 40 * 60_000, minutes: 120 });
  await page.getByTestId('offer').first().click();
  await page.locator('[data-testid="book"]:not([disabled])').click();
  await page.locator('[data-testid="status"][data-status="confirmed"]').waitFor();
  const id = bookingId(page);
  const before = await reservation(page, id);
  const fee = before.cancellation.fee_now.total;
  assert.ok(fee > 0, 'expected a cancellation fee inside the cut-off');
  assert.match(await page.getByTestId('cancel-terms').innerText(), new RegExp(money(fee).replace(/[.$]/g, '\\$&')));

  await page.getByTestId('cancel').click();
  const sheet = page.getByTestId('cancel-sheet');
  await sheet.waitFor();
  assert.equal(await sheet.getByTestId('cancel-fee-total').innerText(), money(fee));
  await shot(page, 'cancel-fee');
  // Keeping the booking changes nothing.
  await sheet.getByTestId('keep-booking').click();
  await sheet.waitFor({ state: 'detached' });
  assert.equal((await reservation(page, id)).status, 'confirmed');

  await page.getByTestId('cancel').click();
  await page.getByTestId('confirm-cancel').click();
  await page.locator('[data-testid="status"][data-status="cancelled"]').waitFor();
  assert.equal(await page.getByTestId('cancel-charged-total').innerText(), money(fee));
  const after = await reservation(page, id);
  assert.equal(after.status, 'cancelled');
  assert.equal(after.final.total, fee);
});

journey('two phones book the same car at once: one gets it, the other is told it is no longer available', async ({ phone }) => {
  const [a, b] = await Promise.all([readyResident('zhang-wei'), readyResident('wang-fang')]);
  const pageA = await phone();
  const pageB = await phone({ lang: 'en' });
  await signIn(pageA, a.email);
  await signIn(pageB, b.email);
  await pageB.getByTestId('lang').click(); // the English switch
  await pageB.getByText('Find a car', { exact: true }).first().waitFor();
  assert.equal(await pageB.locator('html').getAttribute('lang'), 'en');

  const start = nextMinute() + 3 * 3600_000;
  await search(pageA, { zone: 'chuangye-st', start, minutes: 90 });
  await search(pageB, { zone: 'chuangye-st', start, minutes: 90 });
  const vehicleId = await pageA.getByTestId('offer').first().getAttribute('data-vehicle-id');
  await pageA.getByTestId('offer').first().click();
  await pageB.locator(`[data-testid="offer"][data-vehicle-id="${vehicleId}"]`).click();
  const bookA = pageA.locator('[data-testid="book"]:not([disabled])');
  const bookB = pageB.locator('[data-testid="book"]:not([disabled])');
  await Promise.all([bookA.waitFor(), bookB.waitFor()]);

  // Both press "book" at the same moment; the database's exclusion constraint decides.
  await Promise.all([bookA.click(), bookB.click()]);
  const outcome = async (page) => {
    const won = page.locator('[data-testid="status"][data-status="confirmed"]');
    const lost = page.locator('[data-testid="error"][data-code="vehicle_unavailable"]');
    await won.or(lost).waitFor();
    return (await won.count()) > 0 ? 'booked' : 'refused';
  };
  const [ra, rb] = await Promise.all([outcome(pageA), outcome(pageB)]);
  assert.deepEqual([ra, rb].sort(), ['booked', 'refused'], `outcomes: A ${ra}, B ${rb}`);
  const loser = ra === 'refused' ? pageA : pageB;
  const message = await loser.getByTestId('error').innerText();
  assert.match(message, loser === pageB ? /no longer available/ : /该车已不可用/);
  await loser.getByTestId('search-again').waitFor();
  await shot(loser, 'car-taken', { top: false });
});

journey('a rejected access token is refreshed; a failed refresh signs the resident out', async ({ phone }) => {
  const { email } = await readyResident('liu-yang');
  const page = await phone();
  await signIn(page, email);
  const first = await appSession(page);

  // An access token the server refuses (as an expired one is): the app
  // refreshes once — its three parallel calls share the one refresh, since a
  // refresh token works only once — and carries on.
  await page.evaluate(() => {
    const s = JSON.parse(localStorage.getItem('hq.session'));
    localStorage.setItem('hq.session', JSON.stringify({ ...s, access: 'not-a-token' }));
  });
  await page.reload();
  await page.getByTestId('search').waitFor();
  await page.locator('.tabbar a[data-tab="trips"]').click();
  await page.getByTestId('tab-upcoming').waitFor();
  const second = await appSession(page);
  assert.notEqual(second.access, 'not-a-token');
  assert.notEqual(second.refresh, first.refresh, 'the refresh token did not rotate');

  // The session ends elsewhere (signed out on the server): the refresh fails,
  // and the app signs out and says why.
  await api('POST', '/v1/auth/logout', { token: second.access });
  await page.locator('.tabbar a[data-tab="me"]').click();
  await page.getByTestId('signin').waitFor();
  assert.match(await page.locator('.alert.warn').innerText(), /登录已过期/);
  assert.equal(await appSession(page), null);
});
