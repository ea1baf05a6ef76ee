// The residents' app stand-in: a hash router over the screens, the header
// with its language switch, the tab bar and toasts. Every screen talks to
// the public API only (api.js).

import { session, onSignedOut } from './api.js';
import { mount } from './dom.js';
import { t, lang, setLang, applyStatic } from './i18n.js';
import { loading, errorBox } from './ui.js';
import { signInScreen, signUpScreen, meScreen, licenceScreen, cardsScreen } from './account.js';
import { searchScreen, carScreen } from './search.js';
import { tripsScreen, bookingScreen } from './trips.js';

// route: pattern → [screen, tab, needs a session, has a back button]
const routes = [
  [/^\/login$/, signInScreen, null, false, false],
  [/^\/signup$/, signUpScreen, null, false, false],
  [/^\/search$/, searchScreen, 'search', true, false],
  [/^\/car\/([0-9a-f-]{36})$/, carScreen, 'search', true, true],
  [/^\/trips$/, tripsScreen, 'trips', true, false],
  [/^\/booking\/([0-9a-f-]{36})$/, bookingScreen, 'trips', true, true],
  [/^\/me$/, meScreen, 'me', true, false],
  [/^\/licence$/, licenceScreen, 'me', true, true],
  [/^\/cards$/, cardsScreen, 'me', true, true],
];

const view = document.getElementById('view');
const titleEl = document.getElementById('title');
const backBtn = document.getElementById('back');
const tabbar = document.getElementById('tabbar');
const toastEl = document.getElementById('toast');

let generation = 0;
let timers = [];
let pendingNotice = null;

function clearTimers() {
  for (const id of timers) clearInterval(id);
  timers = [];
}

/** go navigates to a hash route (e.g. '/search'). */
export function go(path) {
  if (location.hash === `#${path}`) render();
  else location.hash = path;
}

/** toast shows a short confirmation. */
export function toast(text) {
  toastEl.textContent = text;
  toastEl.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { toastEl.hidden = true; }, 3000);
}

function parse() {
  const raw = location.hash.replace(/^#/, '') || '/search';
  const [path, query = ''] = raw.split('?');
  return { path, query: new URLSearchParams(query) };
}

async function render() {
  const gen = ++generation;
  clearTimers();
  document.querySelectorAll('.overlay').forEach((o) => o.remove());
  const { path, query } = parse();
  const route = routes.find(([re]) => re.test(path));
  if (!route) return go(session.signedIn ? '/search' : '/login');
  const [re, screen, tab, needsSession, hasBack] = route;
  if (needsSession && !session.signedIn) return go('/login');
  if (!needsSession && session.signedIn) return go('/search');

  tabbar.hidden = !tab;
  for (const a of tabbar.querySelectorAll('a')) a.classList.toggle('active', a.dataset.tab === tab);
  backBtn.hidden = !hasBack;
  titleEl.textContent = t('app.title');
  mount(view, loading());
  view.scrollTop = 0;

  const ctx = {
    params: path.match(re).slice(1),
    query,
    view,
    go,
    /** replace shows another route in place of this one in the history. */
    replace: (p) => location.replace(`#${p}`),
    toast,
    /** current says whether this screen is still the one shown. */
    current: () => gen === generation,
    title: (text) => { titleEl.textContent = text; document.title = `${text} · ${t('app.title')}`; },
    /** every runs fn each ms while this screen is shown. */
    every: (ms, fn) => { if (gen === generation) timers.push(setInterval(fn, ms)); },
    rerender: render,
    notice: pendingNotice,
  };
  pendingNotice = null;
  try {
    await screen(ctx);
  } catch (err) {
    if (ctx.current()) mount(view, errorBox(err));
  }
}

onSignedOut((reason) => {
  pendingNotice = reason === 'expired' ? t('auth.expired') : null;
  go('/login');
});

document.getElementById('lang').addEventListener('click', () => {
  setLang(lang() === 'zh' ? 'en' : 'zh');
  applyStatic();
  render();
});
backBtn.addEventListener('click', () => {
  if (history.length > 1) history.back();
  else go('/search');
});
window.addEventListener('hashchange', render);

applyStatic();
render();
