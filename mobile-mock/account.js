// Account screens: sign in, sign up, "me" (profile and the steps before a
// first booking), the driving licence and saved cards.

import { api, session, newKey, ApiError } from './api.js';
import { h, mount, busy } from './dom.js';
import { t, lang, setLang, applyStatic } from './i18n.js';
import { dateTime, dateInput } from './format.js';
import { errorBox, notice } from './ui.js';

function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', {}, label), input, hint && h('small', { class: 'muted' }, hint));
}

function form(onsubmit, ...children) {
  const f = h('form', { class: 'form', novalidate: true }, children);
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    onsubmit(f);
  });
  return f;
}

/** formError puts an error (or nothing) into a form's error slot. */
function showError(slot, err) {
  mount(slot, err ? errorBox(err) : null);
}

export async function signInScreen(ctx) {
  ctx.title(t('auth.signin'));
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, testid: 'email' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, testid: 'password' });
  const slot = h('div');
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'signin' }, t('auth.signin'));
  mount(ctx.view,
    h('section', { class: 'hero' }, h('div', { class: 'logo', 'aria-hidden': 'true' }, '红旗'), h('h2', {}, t('app.title')), h('p', { class: 'muted' }, t('app.tagline'))),
    ctx.notice && notice('warn', ctx.notice),
    form(() => busy(submit, t('auth.signingIn'), async () => {
      showError(slot, null);
      try {
        session.start(await api('POST', '/v1/auth/login', { auth: false, body: { email: email.value.trim(), password: password.value } }));
        ctx.go('/search');
      } catch (err) {
        showError(slot, err);
      }
    }),
    field(t('auth.email'), email),
    field(t('auth.password'), password),
    slot,
    submit),
    h('p', { class: 'center' }, t('auth.noAccount'), ' ', h('a', { href: '#/signup', testid: 'to-signup' }, t('auth.signup'))),
    h('p', { class: 'center muted small' }, t('auth.demo')));
}

export async function signUpScreen(ctx) {
  ctx.title(t('auth.signup'));
  const name = h('input', { name: 'display_name', autocomplete: 'name', required: true, maxlength: 64, testid: 'name' });
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true, testid: 'email' });
  const phone = h('input', { type: 'tel', name: 'phone', autocomplete: 'tel', required: true, placeholder: '+8613812345678', testid: 'phone' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: 10, testid: 'password' });
  const slot = h('div');
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'signup' }, t('auth.signup'));
  mount(ctx.view,
    h('p', { class: 'muted' }, t('auth.signupIntro')),
    form(() => busy(submit, t('auth.signingUp'), async () => {
      showError(slot, null);
      try {
        session.start(await api('POST', '/v1/auth/register', {
          auth: false,
          body: { display_name: name.value.trim(), email: email.value.trim(), phone: phone.value.trim(), password: password.value },
        }));
        ctx.toast(t('auth.welcome'));
        ctx.go('/me');
      } catch (err) {
        showError(slot, err);
      }
    }),
    field(t('auth.name'), name),
    field(t('auth.email'), email),
    field(t('auth.phone'), phone),
    field(t('auth.password'), password, t('auth.passwordHint')),
    slot,
    submit),
    h('p', { class: 'center' }, t('auth.haveAccount'), ' ', h('a', { href: '#/login' }, t('auth.signin'))));
}

/** licenceLine says where the resident's licence stands. */
function licenceState(user) {
  const l = user.driving_licence;
  return l ? l.status : 'none';
}

export async function meScreen(ctx) {
  ctx.title(t('me.title'));
  const [user, cards] = await Promise.all([api('GET', '/v1/me'), api('GET', '/v1/me/payment-methods')]);
  if (!ctx.current()) return;
  session.setUser(user);
  const lic = licenceState(user);
  const card = cards.items.find((c) => c.is_default);
  const ready = lic === 'approved' && card;
  const step = (n, done, title, state, href, testid) => h('a', { class: `step ${done ? 'done' : ''}`, href, testid },
    h('span', { class: 'step-n', 'aria-hidden': 'true' }, done ? '✓' : n),
    h('span', { class: 'step-body' }, h('strong', {}, title), h('small', {}, state)),
    h('span', { class: 'chev', 'aria-hidden': 'true' }, '›'));
  const logout = h('button', { type: 'button', class: 'secondary', testid: 'signout' }, t('me.signout'));
  logout.addEventListener('click', () => busy(logout, t('working'), async () => {
    try {
      await api('POST', '/v1/auth/logout');
    } catch {
      // Signing out here forgets the tokens whatever the server says.
    }
    session.end();
  }));
  const langBtn = h('button', { type: 'button', class: 'secondary' }, lang() === 'zh' ? 'English' : '中文');
  langBtn.addEventListener('click', () => {
    setLang(lang() === 'zh' ? 'en' : 'zh');
    applyStatic();
    ctx.rerender();
  });
  mount(ctx.view,
    h('section', { class: 'card profile' },
      h('div', { class: 'avatar', 'aria-hidden': 'true' }, (user.display_name || '?').slice(0, 1)),
      h('div', {}, h('h2', { testid: 'me-name' }, user.display_name), h('p', { class: 'muted' }, user.email), h('p', { class: 'muted' }, user.phone))),
    ready
      ? notice('ok', t('me.ready'), ' ', h('a', { href: '#/search' }, t('me.findCar')))
      : notice('info', t('me.stepsTitle'), h('p', {}, t('me.stepsIntro'))),
    h('div', { class: 'steps' },
      step(1, lic === 'approved', t('me.licence'), t(`licence.${lic}`), '#/licence', 'to-licence'),
      step(2, Boolean(card), t('me.card'), card ? `${card.brand.toUpperCase()} •••• ${card.last4}` : t('cards.none'), '#/cards', 'to-cards')),
    h('div', { class: 'row gap' }, langBtn, logout));
}

export async function licenceScreen(ctx) {
  ctx.title(t('licence.title'));
  let lic = null;
  try {
    lic = await api('GET', '/v1/me/driving-licence');
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  if (!ctx.current()) return;
  const status = lic ? lic.status : 'none';
  const number = h('input', { name: 'number', required: true, minlength: 5, maxlength: 32, value: lic ? lic.number : '', testid: 'licence-number' });
  const region = h('input', { name: 'issuing_region', required: true, value: lic ? lic.issuing_region : 'CN-JL', testid: 'licence-region' });
  const expires = h('input', { type: 'date', name: 'expires_on', required: true, testid: 'licence-expires',
    value: lic ? lic.expires_on : dateInput(new Date(Date.now() + 6 * 365 * 86400000)) });
  const slot = h('div');
  const submit = h('button', { type: 'submit', class: 'primary', testid: 'licence-submit' }, lic ? t('licence.resubmit') : t('licence.submit'));
  const refresh = h('button', { type: 'button', class: 'secondary', testid: 'licence-refresh' }, t('licence.refresh'));
  refresh.addEventListener('click', () => ctx.rerender());
  mount(ctx.view,
    h('section', { class: 'card' },
      h('p', {}, t('licence.status'), ' ',
        h('span', { class: `badge lic-${status}`, testid: 'licence-status', 'data-status': status }, t(`licence.${status}`))),
      lic && h('p', { class: 'muted small' }, t('licence.submitted', { at: dateTime(lic.submitted_at) }),
        lic.reviewed_at ? ` · ${t('licence.reviewed', { at: dateTime(lic.reviewed_at) })}` : ''),
      lic && lic.rejection_reason && notice('error', t('licence.rejectedBecause'), h('p', {}, lic.rejection_reason)),
      status === 'pending' && h('p', { class: 'muted' }, t('licence.pendingHint')),
      status === 'pending' && refresh),
    form(() => busy(submit, t('working'), async () => {
      showError(slot, null);
      try {
        await api('PUT', '/v1/me/driving-licence', {
          body: { number: number.value.trim(), issuing_region: region.value.trim(), expires_on: expires.value },
        });
        ctx.toast(t('licence.sent'));
        ctx.rerender();
      } catch (err) {
        showError(slot, err);
      }
    }),
    h('h3', {}, lic ? t('licence.update') : t('licence.new')),
    field(t('licence.number'), number),
    field(t('licence.region'), region, t('licence.regionHint')),
    field(t('licence.expires'), expires),
    slot,
    submit));
}

export async function cardsScreen(ctx) {
  ctx.title(t('cards.title'));
  const list = await api('GET', '/v1/me/payment-methods');
  if (!ctx.current()) return;
  const slot = h('div');
  const add = h('button', { type: 'button', class: 'primary', testid: 'add-card' }, t('cards.addTest'));
  add.addEventListener('click', () => busy(add, t('cards.saving'), async () => {
    showError(slot, null);
    try {
      const before = list.items.length;
      // Test mode: the server confirms the SetupIntent with Stripe's test card.
      await api('POST', '/v1/me/payment-methods/setup-intent', { idempotencyKey: newKey(), body: { payment_method: 'pm_card_visa' } });
      // The card is listed once Stripe's event arrives (at once with stripe-mock).
      for (let i = 0; i < 20; i++) {
        const now = await api('GET', '/v1/me/payment-methods');
        if (now.items.length > before) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      ctx.toast(t('cards.saved'));
      ctx.rerender();
    } catch (err) {
      showError(slot, err);
    }
  }));
  const cardRow = (c) => {
    const actions = [];
    if (!c.is_default) {
      const def = h('button', { type: 'button', class: 'link' }, t('cards.makeDefault'));
      def.addEventListener('click', () => busy(def, t('working'), async () => {
        try { await api('PUT', `/v1/me/payment-methods/${encodeURIComponent(c.id)}/default`); ctx.rerender(); } catch (err) { showError(slot, err); }
      }));
      actions.push(def);
    }
    const del = h('button', { type: 'button', class: 'link danger' }, t('cards.remove'));
    del.addEventListener('click', () => busy(del, t('working'), async () => {
      try { await api('DELETE', `/v1/me/payment-methods/${encodeURIComponent(c.id)}`); ctx.rerender(); } catch (err) { showError(slot, err); }
    }));
    actions.push(del);
    return h('li', { class: 'pay-card', testid: 'card', 'data-default': String(c.is_default) },
      h('div', { class: 'brand' }, c.brand.toUpperCase()),
      h('div', { class: 'grow' }, h('strong', {}, `•••• ${c.last4}`), h('small', { class: 'muted' }, ` ${String(c.exp_month).padStart(2, '0')}/${c.exp_year}`),
        c.is_default && h('span', { class: 'badge ok' }, t('cards.default'))),
      h('div', { class: 'row' }, actions));
  };
  mount(ctx.view,
    list.items.length
      ? h('ul', { class: 'list', testid: 'cards' }, list.items.map(cardRow))
      : notice('info', t('cards.none'), h('p', {}, t('cards.why'))),
    h('section', { class: 'card' },
      h('p', { class: 'muted small' }, t('cards.testMode')),
      slot,
      add));
}
