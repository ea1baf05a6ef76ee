// My trips and one booking through its life: pay/confirm, unlock, the active
// trip with its clock and running price, extend, return, the receipt, and
// cancelling with the fee shown first.

import { api } from './api.js';
import { h, mount, busy } from './dom.js';
import { t, pick } from './i18n.js';
import { money, span, clock, dateTime, minutes, stopwatch, iso } from './format.js';
import { zones as loadZones } from './state.js';
import { errorBox, notice, priceTable, statusBadge, carHeader, carName, sheet } from './ui.js';

const SCOPES = ['upcoming', 'active', 'past'];
const UNLOCK_EARLY_MS = 15 * 60000;

function priceOf(r) {
  return r.final || r.quote;
}

function tripRow(r) {
  const p = priceOf(r);
  return h('a', { class: 'trip', href: `#/booking/${r.id}`, testid: 'trip', 'data-id': r.id, 'data-status': r.status },
    h('div', { class: 'grow' },
      h('strong', {}, carName(r.vehicle)), ' ', h('span', { class: 'plate small' }, r.vehicle.plate),
      h('div', { class: 'muted small' }, span(r.start, r.end))),
    h('div', { class: 'right' }, statusBadge(r.status), h('div', { class: 'small' }, money(p.total, p.currency))));
}

export async function tripsScreen(ctx) {
  ctx.title(t('trips.title'));
  const lists = await Promise.all(SCOPES.map((s) => api('GET', `/v1/reservations?scope=${s}&limit=50`)));
  if (!ctx.current()) return;
  const by = Object.fromEntries(SCOPES.map((s, i) => [s, lists[i].items]));
  let tab = ctx.query.get('tab') || (by.active.length ? 'active' : 'upcoming');
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const body = h('div', { class: 'trip-list' });
  const draw = () => {
    mount(tabs, SCOPES.map((s) => h('button', {
      type: 'button', role: 'tab', 'aria-selected': String(s === tab), class: s === tab ? 'on' : '', testid: `tab-${s}`,
      onclick: () => { tab = s; draw(); },
    }, t(`trips.${s}`), h('span', { class: 'count' }, String(by[s].length)))));
    mount(body, by[tab].length
      ? by[tab].map(tripRow)
      : h('p', { class: 'empty muted', testid: 'no-trips' }, t(`trips.none.${tab}`), ' ', tab !== 'past' ? h('a', { href: '#/search' }, t('me.findCar')) : null));
  };
  draw();
  mount(ctx.view, tabs, body);
}

/** runningPrice is what the trip costs so far: the booked price (the
 * minimum), plus, once past the booked end, the plan's late fee for each
 * started 15 minutes with its VAT. The exact price comes with the receipt. */
function runningPrice(r, rules, now) {
  let total = r.quote.total;
  const over = now - Date.parse(r.end);
  if (over > 0 && rules) {
    const fee = Math.ceil(over / (15 * 60000)) * rules.late_fee_per_15_min;
    total += fee + Math.round((fee * rules.vat_rate_bp) / 10000);
  }
  return total;
}

export async function bookingScreen(ctx) {
  const [id] = ctx.params;
  ctx.title(t('booking.title'));
  const [first, zones] = await Promise.all([api('GET', `/v1/reservations/${id}`), loadZones()]);
  if (!ctx.current()) return;
  let rules = null;
  const zoneName = (zid) => {
    const z = zones.find((x) => x.id === zid);
    return z ? pick(z.name_zh, z.name_en) : '';
  };

  // Each state of the booking runs its own timers; showing another stops them.
  let timers = [];
  const every = (ms, fn) => {
    const tid = setInterval(() => (ctx.current() ? fn() : clearInterval(tid)), ms);
    timers.push(tid);
  };

  const show = (r) => {
    if (!ctx.current()) return;
    timers.forEach(clearInterval);
    timers = [];
    const actions = h('div', { class: 'actions-col' });
    const slot = h('div');
    const parts = [
      carHeader(r.vehicle, statusBadge(r.status)),
      ctx.query.get('new') && ['confirmed', 'pending_payment'].includes(r.status)
        ? notice('ok', t('booking.booked'), h('p', {}, t('booking.bookedHint'))) : null,
      // A receipt says when the trip really ran; other states, the booked window.
      r.status !== 'completed' && h('section', { class: 'card facts' },
        h('div', {}, h('small', { class: 'muted' }, t('booking.window')), h('strong', { testid: 'booking-window' }, span(r.start, r.end))),
        h('div', {}, h('small', { class: 'muted' }, t('booking.pickup')), h('strong', {}, zoneName(r.zone_id)))),
    ];
    const extendBtn = () => {
      const b = h('button', { type: 'button', class: 'secondary', testid: 'extend' }, t('extend.button'));
      b.addEventListener('click', () => extend(r));
      return b;
    };
    const cancelBtn = () => {
      const b = h('button', { type: 'button', class: 'secondary danger', testid: 'cancel' }, t('cancel.button'));
      b.addEventListener('click', () => busy(b, t('loading'), () => cancel(r.id)));
      return b;
    };

    switch (r.status) {
      case 'pending_payment': {
        parts.push(notice('info', t('booking.awaitingPayment'), h('p', {}, t('booking.holdUntil', { at: clock(r.hold_expires_at) })),
          r.payment && r.payment.client_secret ? h('p', { class: 'small' }, t('booking.confirmInApp')) : null));
        parts.push(priceTable(r.quote, { testid: 'booked-price', title: t('booking.price') }));
        mount(actions, cancelBtn());
        every(1500, async () => {
          const now = await api('GET', `/v1/reservations/${r.id}`).catch(() => null);
          if (now && now.status !== r.status) show(now);
        });
        break;
      }
      case 'confirmed': {
        const unlockAt = Date.parse(r.start) - UNLOCK_EARLY_MS;
        const free = r.cancellation && Date.parse(r.cancellation.free_until) > Date.now();
        parts.push(h('section', { class: 'card' },
          h('p', { testid: 'payment' }, t('booking.authorized', { amount: money(r.payment ? r.payment.amount_authorized : r.quote.total) })),
          h('p', { class: 'muted small' }, Date.now() >= unlockAt ? t('booking.unlockNow') : t('booking.unlockFrom', { at: dateTime(unlockAt) })),
          r.cancellation && h('p', { class: 'muted small', testid: 'cancel-terms' }, free
            ? t('cancel.freeUntil', { at: dateTime(r.cancellation.free_until) })
            : t('cancel.feeNow', { fee: money(r.cancellation.fee_now.total) }))));
        parts.push(priceTable(r.quote, { testid: 'booked-price', title: t('booking.price') }));
        const unlock = h('button', { type: 'button', class: 'primary big', testid: 'unlock' }, t('trip.unlock'));
        unlock.addEventListener('click', () => busy(unlock, t('trip.unlocking'), async () => {
          mount(slot);
          try {
            show(await api('POST', `/v1/reservations/${r.id}/start`));
            ctx.toast(t('trip.unlocked'));
          } catch (err) {
            mount(slot, errorBox(err));
          }
        }));
        mount(actions, unlock, h('div', { class: 'row gap' }, extendBtn(), cancelBtn()));
        break;
      }
      case 'active': {
        const started = Date.parse(r.trip.started_at);
        const elapsed = h('strong', { class: 'clock', testid: 'elapsed' });
        const running = h('strong', { class: 'clock', testid: 'running-price' });
        const left = h('p', { class: 'small', testid: 'time-left' });
        const tick = () => {
          const now = Date.now();
          elapsed.textContent = stopwatch(now - started);
          running.textContent = money(runningPrice(r, rules, now), r.quote.currency);
          const rest = Date.parse(r.end) - now;
          left.textContent = rest >= 0
            ? t('trip.left', { t: minutes(Math.ceil(rest / 60000)), at: clock(r.end) })
            : t('trip.overdue', { t: minutes(Math.ceil(-rest / 60000)) });
          left.classList.toggle('warn-text', rest < 0);
          if (rest < 0 && !rules) {
            rules = {}; // ask once
            api('GET', `/v1/pricing-plans/${r.plan_id}/versions/${r.plan_version}`, { auth: false })
              .then((v) => { rules = v.rules; }).catch(() => { rules = null; });
          }
        };
        tick();
        every(1000, tick);
        const place = h('select', { testid: 'return-place' },
          h('option', { value: '' }, t('trip.returnHere')),
          zones.map((z) => h('option', { value: z.id }, pick(z.name_zh, z.name_en))));
        parts.push(h('section', { class: 'card live', testid: 'active-trip' },
          h('div', { class: 'grid2' },
            h('div', {}, h('small', { class: 'muted' }, t('trip.elapsed')), elapsed),
            h('div', {}, h('small', { class: 'muted' }, t('trip.running')), running)),
          left,
          h('p', { class: 'muted small' }, t('trip.runningNote'))));
        parts.push(h('label', { class: 'field' }, h('span', {}, t('trip.returnAt')), place));
        const end = h('button', { type: 'button', class: 'primary big', testid: 'end-trip' }, t('trip.end'));
        end.addEventListener('click', () => endTrip(r, place.value));
        mount(actions, end, extendBtn());
        parts.push(priceTable(r.quote, { testid: 'booked-price', title: t('booking.price') }));
        break;
      }
      case 'completed': {
        const km = r.trip.end_odometer_km != null && r.trip.start_odometer_km != null
          ? Math.max(0, Math.round(r.trip.end_odometer_km - r.trip.start_odometer_km)) : null;
        parts.push(h('section', { class: 'card receipt', testid: 'receipt' },
          h('h3', {}, t('receipt.title')),
          h('dl', { class: 'facts-list' },
            h('dt', {}, t('receipt.started')), h('dd', {}, dateTime(r.trip.started_at)),
            h('dt', {}, t('receipt.ended')), h('dd', {}, dateTime(r.trip.ended_at)),
            h('dt', {}, t('receipt.duration')), h('dd', {}, minutes(r.trip.elapsed_minutes)),
            km != null && [h('dt', {}, t('receipt.km')), h('dd', {}, `${km} km`)],
            r.trip.end_battery_pct != null && [h('dt', {}, t('receipt.battery')), h('dd', {}, `${r.trip.start_battery_pct ?? '–'}% → ${r.trip.end_battery_pct}%`)],
            h('dt', {}, t('receipt.returnedAt')), h('dd', {}, r.trip.out_of_zone ? t('receipt.outOfZone') : zoneName(r.trip.end_zone_id))),
          r.final && priceTable(r.final, { testid: 'receipt-price', title: t('receipt.final') }),
          r.payment && h('p', { class: 'muted small', testid: 'receipt-payment' },
            t('receipt.paid', { amount: money(r.final ? r.final.total : r.payment.amount_captured), status: t(`payment.${r.payment.status}`) }))));
        break;
      }
      case 'cancelled':
        parts.push(h('section', { class: 'card', testid: 'cancelled' },
          h('p', {}, t('cancel.done', { at: r.cancelled_at ? dateTime(r.cancelled_at) : '' })),
          r.final && r.final.total > 0
            ? priceTable(r.final, { testid: 'cancel-charged', title: t('cancel.charged') })
            : h('p', { class: 'muted' }, t('cancel.wasFree'))));
        break;
      case 'expired':
        parts.push(notice('info', t('booking.expired')));
        break;
      case 'no_show':
        parts.push(notice('warn', t('booking.noShow')), r.final && priceTable(r.final, { testid: 'noshow-charged', title: t('booking.noShowFee') }));
        break;
      default:
        break;
    }
    mount(ctx.view, parts, slot, actions);
  };

  const extend = (r) => {
    const slot = h('div');
    const option = (add) => {
      const b = h('button', { type: 'button', class: 'secondary', testid: `extend-${add}` }, `+ ${minutes(add)}`);
      b.addEventListener('click', () => busy(b, t('working'), async () => {
        mount(slot);
        try {
          const next = await api('PATCH', `/v1/reservations/${r.id}`, { body: { end: iso(Date.parse(r.end) + add * 60000) } });
          close();
          ctx.toast(t('extend.done', { at: clock(next.end) }));
          show(next);
        } catch (err) {
          mount(slot, errorBox(err));
        }
      }));
      return b;
    };
    const close = sheet('extend-sheet',
      h('h3', {}, t('extend.title')),
      h('p', { class: 'muted' }, t('extend.now', { at: dateTime(r.end) })),
      h('div', { class: 'row gap' }, option(30), option(60), option(120)),
      h('p', { class: 'muted small' }, t('extend.note')),
      slot,
      h('button', { type: 'button', class: 'link', onclick: () => close() }, t('close')));
  };

  const cancel = async (rid) => {
    // Ask again now: the fee depends on the moment.
    const r = await api('GET', `/v1/reservations/${rid}`);
    const fee = r.cancellation ? r.cancellation.fee_now : null;
    const slot = h('div');
    const confirm = h('button', { type: 'button', class: 'primary danger', testid: 'confirm-cancel' }, t('cancel.confirm'));
    confirm.addEventListener('click', () => busy(confirm, t('working'), async () => {
      mount(slot);
      try {
        const done = await api('POST', `/v1/reservations/${rid}/cancel`);
        close();
        ctx.toast(t('cancel.toast'));
        show(done);
      } catch (err) {
        mount(slot, errorBox(err));
      }
    }));
    const close = sheet('cancel-sheet',
      h('h3', {}, t('cancel.title')),
      fee && fee.total > 0
        ? [notice('warn', t('cancel.feeWarn', { fee: money(fee.total, fee.currency) })), priceTable(fee, { testid: 'cancel-fee', title: t('cancel.feeTitle') })]
        : notice('ok', t('cancel.free')),
      r.cancellation && h('p', { class: 'muted small' }, t('cancel.freeUntilWas', { at: dateTime(r.cancellation.free_until) })),
      slot,
      h('div', { class: 'row gap' }, h('button', { type: 'button', class: 'secondary', testid: 'keep-booking', onclick: () => close() }, t('cancel.keep')), confirm));
  };

  const endTrip = (r, zoneId) => {
    const z = zones.find((x) => x.id === zoneId);
    const slot = h('div');
    const confirm = h('button', { type: 'button', class: 'primary', testid: 'confirm-end' }, t('trip.endConfirm'));
    confirm.addEventListener('click', () => busy(confirm, t('trip.ending'), async () => {
      mount(slot);
      try {
        // The phone's position: the chosen zone's centre, or none (the car's own).
        const body = z ? { lat: z.location.lat, lng: z.location.lng } : undefined;
        const done = await api('POST', `/v1/reservations/${r.id}/end`, { body });
        close();
        ctx.toast(t('trip.ended'));
        show(done);
      } catch (err) {
        mount(slot, errorBox(err));
      }
    }));
    const close = sheet('end-sheet',
      h('h3', {}, t('trip.endTitle')),
      h('p', {}, t('trip.endCheck')),
      h('p', { class: 'muted small' }, z ? t('trip.returnZone', { zone: pick(z.name_zh, z.name_en) }) : t('trip.returnHere')),
      slot,
      h('div', { class: 'row gap' }, h('button', { type: 'button', class: 'secondary', onclick: () => close() }, t('close')), confirm));
  };

  show(first);
}
