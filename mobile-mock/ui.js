// Pieces the screens share: error messages, loading, price tables, status
// badges and the car header.

import { ApiError } from './api.js';
import { h } from './dom.js';
import { t, pick, has } from './i18n.js';
import { money } from './format.js';

/**
 * describe turns an error into what the resident reads: the app's own words
 * for the API's stable codes, and the problem's detail.
 */
export function describe(err) {
  if (err instanceof ApiError) {
    const key = `err.${err.code}`;
    const title = has(key) ? t(key) : err.detail || t('err.generic');
    const fields = err.fields.map((f) => `${f.field}: ${f.reason}`);
    const detail = has(key) && err.detail && err.detail !== title ? err.detail : '';
    return { title, detail: [detail, ...fields].filter(Boolean).join(' · '), code: err.code };
  }
  return { title: t('err.generic'), detail: String(err && err.message ? err.message : err), code: 'client' };
}

/** errorBox shows an error with the code the API gave it. */
export function errorBox(err, ...actions) {
  const d = describe(err);
  return h('div', { class: 'alert error', role: 'alert', testid: 'error', 'data-code': d.code },
    h('strong', {}, d.title),
    d.detail && h('p', { class: 'detail' }, d.detail),
    actions.length > 0 && h('div', { class: 'actions' }, actions));
}

/** notice is a non-error message box. */
export function notice(kind, title, ...rest) {
  return h('div', { class: `alert ${kind}` }, h('strong', {}, title), rest);
}

/** loading is the placeholder shown while a screen loads. */
export function loading(text) {
  return h('p', { class: 'loading', testid: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text || t('loading'));
}

/** priceTable lists the lines of a price, VAT and the total. */
export function priceTable(price, { testid = 'price', title } = {}) {
  const rows = price.lines.filter((l) => l.code !== 'vat').map((l) =>
    h('tr', { 'data-code': l.code },
      h('td', {}, pick(l.description_zh, l.description_en), l.quantity > 1 && l.unit !== 'fee'
        ? h('span', { class: 'qty' }, ` × ${l.quantity}`) : null),
      h('td', { class: 'amount' }, money(l.amount, price.currency))));
  const vat = price.lines.find((l) => l.code === 'vat');
  return h('div', { class: 'price', testid },
    title && h('h3', {}, title),
    h('table', {},
      h('tbody', {}, rows),
      h('tfoot', {},
        h('tr', { class: 'sub' }, h('td', {}, t('price.subtotal')), h('td', { class: 'amount' }, money(price.subtotal, price.currency))),
        h('tr', { class: 'sub' }, h('td', {}, vat ? pick(vat.description_zh, vat.description_en) : t('price.vat')),
          h('td', { class: 'amount' }, money(price.vat, price.currency))),
        h('tr', { class: 'total' }, h('td', {}, t('price.total')),
          h('td', { class: 'amount', testid: `${testid}-total` }, money(price.total, price.currency))))));
}

/** statusBadge shows a reservation's state. */
export function statusBadge(status) {
  return h('span', { class: `badge st-${status}`, testid: 'status', 'data-status': status }, t(`status.${status}`));
}

/** carName is e.g. 红旗 E-HS9. */
export function carName(car) {
  const make = car.make === 'Hongqi' ? t('make.hongqi') : car.make;
  return `${make} ${car.model}`;
}

/** carImage shows a model's picture, or a plain block when it has none. */
export function carImage(car, cls = 'car-img') {
  if (!car.image_url) return h('div', { class: `${cls} placeholder`, 'aria-hidden': 'true' });
  const img = h('img', { class: cls, src: car.image_url, alt: carName(car), loading: 'lazy' });
  img.addEventListener('error', () => img.classList.add('broken'));
  return img;
}

/** carHeader is the car's picture, name, plate and kind. */
export function carHeader(car, ...extra) {
  return h('div', { class: 'car-head' },
    carImage(car),
    h('div', {},
      h('h2', {}, carName(car)),
      h('p', { class: 'muted' }, h('span', { class: 'plate' }, car.plate), ' · ',
        t(`powertrain.${car.powertrain}`), ' · ', t('car.seats', { n: car.seats })),
      extra));
}

/** sheet shows a bottom sheet over the screen; it returns a close function. */
export function sheet(testid, ...children) {
  const close = () => overlay.remove();
  const overlay = h('div', { class: 'overlay', onclick: (e) => { if (e.target === overlay) close(); } },
    h('div', { class: 'sheet', role: 'dialog', 'aria-modal': 'true', testid }, children));
  document.getElementById('phone').append(overlay);
  return close;
}
