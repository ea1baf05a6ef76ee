// Finding a car: a place (a zone of the town, from the list or the map), a
// window and filters → free cars with distance, battery/range and price;
// then a car's itemized quote and the booking.

import { api, newKey, ApiError } from './api.js';
import { h, mount, busy } from './dom.js';
import { t, pick } from './i18n.js';
import { money, distance, span, minutes, toInput, fromInput, iso, nextSlot } from './format.js';
import { state, saveSearch, zones as loadZones, offer as findOffer } from './state.js';
import { townMap } from './map.js';
import { errorBox, notice, loading, priceTable, carHeader, carImage, carName } from './ui.js';

const RADII = [500, 1000, 2000, 5000];

function defaults(zones) {
  const start = nextSlot(5);
  const home = zones.find((z) => z.code === 'faw-hq') || zones[0];
  return {
    zoneId: home ? home.id : '', start: toInput(start), end: toInput(new Date(start.getTime() + 3600000)),
    radius: 1000, seats: '', powertrain: '', minRange: '',
  };
}

function select(name, value, options, testid) {
  const el = h('select', { name, testid }, options.map(([v, label]) => h('option', { value: v }, label)));
  el.value = String(value ?? '');
  return el;
}

function batteryText(o) {
  const range = t('car.range', { km: o.range_km });
  return o.battery_pct == null ? `${t('car.fuel')} · ${range}` : `${t('car.battery', { pct: o.battery_pct })} · ${range}`;
}

function offerCard(o, params) {
  return h('a', { class: 'offer', href: `#/car/${o.vehicle.id}`, testid: 'offer', 'data-vehicle-id': o.vehicle.id, 'data-plate': o.vehicle.plate },
    carImage(o.vehicle, 'offer-img'),
    h('div', { class: 'grow' },
      h('strong', {}, carName(o.vehicle)),
      h('div', { class: 'muted small' }, h('span', { class: 'plate' }, o.vehicle.plate), ' · ', t('car.seats', { n: o.vehicle.seats })),
      h('div', { class: 'small' }, h('span', { testid: 'offer-distance' }, pick(o.zone.name_zh, o.zone.name_en), ' · ', distance(o.distance_m))),
      h('div', { class: `small ${o.battery_pct != null && o.battery_pct < 30 ? 'warn-text' : ''}`, testid: 'offer-energy' }, batteryText(o))),
    h('div', { class: 'offer-price' },
      h('strong', { testid: 'offer-price' }, money(o.quote_total, o.currency)),
      h('small', { class: 'muted' }, minutes(Math.round((Date.parse(params.endISO) - Date.parse(params.startISO)) / 60000)))));
}

export async function searchScreen(ctx) {
  ctx.title(t('search.title'));
  const zones = await loadZones();
  if (!ctx.current()) return;
  const saved = state.search.params;
  const p = { ...defaults(zones), ...(saved || {}) };
  // A window that has started is no use to search again: move it on.
  const savedStart = fromInput(p.start);
  const moved = !savedStart || savedStart.getTime() < Date.now() - 60000;
  if (moved) {
    const d = defaults(zones);
    p.start = d.start;
    p.end = d.end;
  }
  const fresh = Boolean(saved && !moved && state.search.offers);

  const start = h('input', { type: 'datetime-local', name: 'start', value: p.start, step: 60, testid: 'start' });
  const end = h('input', { type: 'datetime-local', name: 'end', value: p.end, step: 60, testid: 'end' });
  const seats = select('seats', p.seats, [['', t('filter.anySeats')], ['5', t('filter.seats', { n: 5 })], ['7', t('filter.seats', { n: 7 })]], 'seats');
  const powertrain = select('powertrain', p.powertrain, [['', t('filter.anyPowertrain')], ['bev', t('powertrain.bev')],
    ['phev', t('powertrain.phev')], ['ice', t('powertrain.ice')]], 'powertrain');
  const minRange = select('min_range', p.minRange, [['', t('filter.anyRange')], ['100', '≥ 100 km'], ['200', '≥ 200 km'], ['300', '≥ 300 km']], 'min-range');
  const radius = select('radius', p.radius, RADII.map((r) => [String(r), t('filter.within', { d: distance(r) })]), 'radius');
  const zoneList = h('div', { class: 'chips', role: 'radiogroup', 'aria-label': t('search.place'), testid: 'zones' });
  const mapSlot = h('div', { class: 'map-wrap' });
  const results = h('section', { class: 'results', testid: 'results' });
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'search' }, t('search.go'));
  let zoneId = p.zoneId;
  let offers = fresh ? state.search.offers : [];

  const drawZones = () => {
    mount(zoneList, zones.map((z) => h('button', {
      type: 'button', role: 'radio', 'aria-checked': String(z.id === zoneId), class: `chip ${z.id === zoneId ? 'on' : ''}`,
      testid: `zone-${z.code}`, onclick: () => { zoneId = z.id; drawZones(); },
    }, pick(z.name_zh, z.name_en), z.kind === 'area' ? h('small', {}, ` · ${t('zone.area')}`) : null)));
    mount(mapSlot, townMap({ zones, offers, selectedId: zoneId, radiusM: Number(radius.value), onSelect: (z) => { zoneId = z.id; drawZones(); } }));
  };
  radius.addEventListener('change', drawZones);

  const filterText = (params) => [
    params.seats && t('filter.seats', { n: params.seats }),
    params.powertrain && t(`powertrain.${params.powertrain}`),
    params.minRange && `≥ ${params.minRange} km`,
    t('filter.within', { d: distance(params.radius) }),
  ].filter(Boolean).join(' · ');

  // Two faces: the form, and the results (what was asked, the map with the
  // cars, the list). The map moves between them.
  const mapInForm = h('div');
  const showForm = () => {
    mapInForm.append(mapSlot);
    mount(ctx.view, f, results);
  };
  const showResults = (params, more) => {
    const zone = zones.find((z) => z.id === params.zoneId);
    const edit = h('button', { type: 'button', class: 'secondary slim', testid: 'edit-search' }, t('search.edit'));
    edit.addEventListener('click', () => { mount(results); showForm(); });
    mount(results,
      h('h3', { testid: 'results-count' }, t(more ? 'search.foundMore' : 'search.found', { n: offers.length })),
      offers.length === 0
        ? notice('info', t('search.none'), h('p', {}, t('search.noneHint')))
        : h('div', { class: 'offers' }, offers.map((o) => offerCard(o, params))));
    mount(ctx.view,
      h('section', { class: 'card summary', testid: 'search-summary' },
        h('div', { class: 'grow' },
          h('strong', {}, zone ? pick(zone.name_zh, zone.name_en) : ''),
          h('div', { class: 'small' }, span(params.startISO, params.endISO)),
          h('div', { class: 'muted small' }, filterText(params))),
        edit),
      mapSlot,
      results);
    window.scrollTo(0, 0);
  };

  const run = () => busy(submit, t('search.searching'), async () => {
    const s = fromInput(start.value);
    const e = fromInput(end.value);
    if (!s || !e) return mount(results, errorBox(new ApiError(400, { code: 'bad_window_input' })));
    if (e <= s) return mount(results, errorBox(new ApiError(400, { code: 'end_before_start' })));
    const zone = zones.find((z) => z.id === zoneId);
    const params = {
      zoneId, start: start.value, end: end.value, radius: Number(radius.value), seats: seats.value,
      powertrain: powertrain.value, minRange: minRange.value, startISO: iso(s), endISO: iso(e),
    };
    const q = new URLSearchParams({ start: params.startISO, end: params.endISO, lat: zone.location.lat, lng: zone.location.lng,
      radius_m: params.radius, limit: 30 });
    if (params.seats) q.set('seats_min', params.seats);
    if (params.powertrain) q.set('powertrain', params.powertrain);
    if (params.minRange) q.set('min_range_km', params.minRange);
    mount(results, loading(t('search.searching')));
    try {
      const page = await api('GET', `/v1/availability?${q}`);
      if (!ctx.current()) return;
      offers = page.items;
      saveSearch({ params, offers, more: Boolean(page.next_cursor), at: Date.now() });
      drawZones();
      showResults(params, Boolean(page.next_cursor));
    } catch (err) {
      if (ctx.current()) mount(results, errorBox(err));
    }
  });

  const f = h('form', { class: 'form search-form', novalidate: true },
    h('h3', {}, t('search.place')),
    zoneList,
    mapInForm,
    h('h3', {}, t('search.when'), h('small', { class: 'muted' }, ` (${t('search.townTime')})`)),
    h('div', { class: 'row gap' },
      h('label', { class: 'field grow' }, h('span', {}, t('search.start')), start),
      h('label', { class: 'field grow' }, h('span', {}, t('search.end')), end)),
    h('details', { class: 'filters', open: Boolean(p.seats || p.powertrain || p.minRange) || undefined },
      h('summary', {}, t('search.filters')),
      h('div', { class: 'grid2' },
        h('label', { class: 'field' }, h('span', {}, t('filter.radius')), radius),
        h('label', { class: 'field' }, h('span', {}, t('filter.seatsLabel')), seats),
        h('label', { class: 'field' }, h('span', {}, t('filter.powertrain')), powertrain),
        h('label', { class: 'field' }, h('span', {}, t('filter.range')), minRange))),
    submit);
  f.addEventListener('submit', (e) => { e.preventDefault(); run(); });
  drawZones();
  if (fresh) showResults(saved, state.search.more);
  else showForm();
}

export async function carScreen(ctx) {
  const [vehicleId] = ctx.params;
  const o = findOffer(vehicleId);
  const params = state.search.params;
  ctx.title(t('car.title'));
  if (!o || !params) {
    mount(ctx.view, notice('info', t('car.lost')), h('a', { class: 'button primary', href: '#/search' }, t('search.go')));
    return;
  }
  const km = h('input', { type: 'number', min: 0, max: 10000, step: 1, value: 20, inputmode: 'numeric', testid: 'km' });
  const quoteSlot = h('div', { testid: 'quote' }, loading(t('car.quoting')));
  const gateSlot = h('div');
  const payWithSlot = h('div');
  const bookSlot = h('div');
  const book = h('button', { type: 'button', class: 'primary big', testid: 'book', disabled: true }, t('car.book'));
  let key = newKey(); // one key per intent to book: a retry of the same booking replays
  let quote = null;

  const requote = async () => {
    mount(quoteSlot, loading(t('car.quoting')));
    book.disabled = true;
    try {
      quote = await api('POST', '/v1/quotes', { body: { vehicle_id: vehicleId, start: params.startISO, end: params.endISO, estimated_km: Number(km.value) || 0 } });
      if (!ctx.current()) return;
      key = newKey();
      mount(quoteSlot, priceTable(quote, { testid: 'quote-price', title: t('car.quote') }),
        h('p', { class: 'muted small' }, t('car.quoteNote', { km: quote.included_km })));
      book.disabled = !gateOK;
    } catch (err) {
      if (ctx.current()) mount(quoteSlot, errorBox(err));
    }
  };
  km.addEventListener('change', requote);

  let gateOK = false;
  const gate = async () => {
    const [me, cards] = await Promise.all([api('GET', '/v1/me'), api('GET', '/v1/me/payment-methods')]);
    const lic = me.driving_licence ? me.driving_licence.status : 'none';
    const card = cards.items.find((c) => c.is_default);
    const problems = [];
    if (lic !== 'approved') problems.push(notice('warn', t('car.needLicence', { state: t(`licence.${lic}`) }), ' ', h('a', { href: '#/licence' }, t('car.goLicence'))));
    if (!card) problems.push(notice('warn', t('car.needCard'), ' ', h('a', { href: '#/cards', testid: 'need-card' }, t('car.goCard'))));
    gateOK = problems.length === 0;
    mount(gateSlot, problems);
    mount(payWithSlot, gateOK && h('p', { class: 'muted small', testid: 'pay-with' }, t('car.payWith', { card: `${card.brand.toUpperCase()} •••• ${card.last4}` })));
  };

  book.addEventListener('click', () => busy(book, t('car.booking'), async () => {
    mount(bookSlot);
    try {
      const r = await api('POST', '/v1/reservations', {
        idempotencyKey: key,
        body: { vehicle_id: vehicleId, start: params.startISO, end: params.endISO, estimated_km: Number(km.value) || 0 },
      });
      // The car is no longer free for this window: the old results are stale.
      saveSearch({ params, offers: (state.search.offers || []).filter((x) => x.vehicle.id !== vehicleId), at: Date.now() });
      ctx.replace(`/booking/${r.id}?new=1`);
    } catch (err) {
      if (!ctx.current()) return;
      const again = err instanceof ApiError && err.code === 'vehicle_unavailable'
        ? h('a', { class: 'button secondary', href: '#/search', testid: 'search-again', onclick: () => saveSearch({ params, offers: null, at: 0 }) }, t('car.searchAgain'))
        : null;
      mount(bookSlot, errorBox(err, again));
      bookSlot.scrollIntoView({ block: 'center' });
    }
  }));

  mount(ctx.view,
    carHeader(o.vehicle, h('p', { class: 'small' }, pick(o.zone.name_zh, o.zone.name_en), ' · ', distance(o.distance_m))),
    h('section', { class: 'card facts' },
      h('div', {}, h('small', { class: 'muted' }, t('car.energy')), h('strong', {}, batteryText(o))),
      h('div', {}, h('small', { class: 'muted' }, t('car.window')), h('strong', { testid: 'window' }, span(params.startISO, params.endISO)))),
    gateSlot,
    h('label', { class: 'field inline' }, h('span', {}, t('car.km')), km),
    quoteSlot,
    payWithSlot,
    bookSlot,
    h('div', { class: 'book-actions' }, book));
  await Promise.all([gate().catch((err) => mount(gateSlot, errorBox(err))), requote()]);
  if (ctx.current() && quote) book.disabled = !gateOK;
}
