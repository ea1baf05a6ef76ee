// Formatting of money, times and distances. Money is integer fen; times are
// shown, and typed, in the town's time (Asia/Shanghai, UTC+8 all year).

import { lang } from './i18n.js';

export const TIME_ZONE = 'Asia/Shanghai';
const OFFSET = '+08:00'; // China keeps no daylight saving time

/** money formats fen as ¥12.34 (with the ISO code for other currencies). */
export function money(fen, currency = 'CNY') {
  const n = Math.round(Number(fen) || 0);
  const abs = Math.abs(n);
  const yuan = Math.floor(abs / 100).toLocaleString('en-US');
  const cents = String(abs % 100).padStart(2, '0');
  const symbol = currency === 'CNY' ? '¥' : `${currency} `;
  return `${n < 0 ? '-' : ''}${symbol}${yuan}.${cents}`;
}

function parts(date) {
  const f = new Intl.DateTimeFormat('en-GB', {
    timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  });
  const out = {};
  for (const p of f.formatToParts(date)) out[p.type] = p.value;
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** day formats the date part: 11月29日 or 29 Nov. */
export function day(value) {
  const p = parts(new Date(value));
  return lang() === 'zh' ? `${Number(p.month)}月${Number(p.day)}日` : `${Number(p.day)} ${MONTHS[Number(p.month) - 1]}`;
}

/** clock formats the time of day: 20:31. */
export function clock(value) {
  const p = parts(new Date(value));
  return `${p.hour}:${p.minute}`;
}

/** dateTime formats a moment: 11月29日 20:31. */
export function dateTime(value) {
  return `${day(value)} ${clock(value)}`;
}

/** span formats a window, leaving out the second date on the same day. */
export function span(start, end) {
  return day(start) === day(end) ? `${dateTime(start)} – ${clock(end)}` : `${dateTime(start)} – ${dateTime(end)}`;
}

/** minutes formats a length of time in minutes: 1 小时 30 分钟. */
export function minutes(total) {
  const d = Math.floor(total / 1440);
  const hrs = Math.floor((total % 1440) / 60);
  const min = total % 60;
  const zh = lang() === 'zh';
  const out = [];
  if (d) out.push(zh ? `${d} 天` : `${d} d`);
  if (hrs) out.push(zh ? `${hrs} 小时` : `${hrs} h`);
  if (min || out.length === 0) out.push(zh ? `${min} 分钟` : `${min} min`);
  return out.join(' ');
}

/** stopwatch formats milliseconds as h:mm:ss. */
export function stopwatch(ms) {
  const sec = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(sec / 3600);
  const m = String(Math.floor((sec % 3600) / 60)).padStart(2, '0');
  const s = String(sec % 60).padStart(2, '0');
  return `${h}:${m}:${s}`;
}

/** distance formats metres: 350 m or 1.2 km. */
export function distance(m) {
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}

/** toInput renders a moment for <input type="datetime-local"> in the town's time. */
export function toInput(date) {
  const p = parts(date);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

/** fromInput reads <input type="datetime-local"> as the town's time; null when empty or bad. */
export function fromInput(value) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value || '')) return null;
  const d = new Date(`${value}:00${OFFSET}`);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** dateInput renders a day for <input type="date"> in the town's time. */
export function dateInput(date) {
  return toInput(date).slice(0, 10);
}

/** iso renders a moment as RFC 3339 UTC without fractions, as the API wants. */
export function iso(date) {
  return new Date(date).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** nextSlot is the first whole `step` minutes at least a minute from now. */
export function nextSlot(step = 5, now = Date.now()) {
  const ms = step * 60000;
  return new Date(Math.ceil((now + 60000) / ms) * ms);
}
