// The API client: JSON in and out, problem+json errors as ApiError, and the
// access/refresh token flow — a 401 refreshes once (one refresh at a time,
// since a refresh token works only once) and retries; a failed refresh signs
// the resident out.

const SESSION_KEY = 'hq.session';

/** ApiError is a failed call: the problem+json document the API answered. */
export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || '';
    this.detail = problem.detail || '';
    this.fields = Array.isArray(problem.errors) ? problem.errors : [];
    this.requestId = problem.request_id || '';
  }
}

let current = load();
let refreshing = null;
const signedOutListeners = [];

function load() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    return s && s.access && s.refresh ? s : null;
  } catch {
    return null;
  }
}

function save(s) {
  current = s;
  if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else localStorage.removeItem(SESSION_KEY);
}

/** session is the signed-in resident as this app keeps it. */
export const session = {
  get signedIn() {
    return current !== null;
  },
  get user() {
    return current ? current.user : null;
  },
  /** start keeps the tokens of a sign-up, sign-in or refresh answer. */
  start(answer) {
    save({ access: answer.tokens.access_token, refresh: answer.tokens.refresh_token, user: answer.user });
  },
  setUser(user) {
    if (current) save({ ...current, user });
  },
  /** end forgets the tokens; reason 'expired' tells listeners why. */
  end(reason = 'signed_out') {
    save(null);
    for (const fn of signedOutListeners) fn(reason);
  },
};

/** onSignedOut registers fn(reason) to run when the session ends. */
export function onSignedOut(fn) {
  signedOutListeners.push(fn);
}

async function send(method, path, { body, idempotencyKey, token } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (e) {
    throw new ApiError(0, { code: 'network', detail: e.message });
  }
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await res.json().catch(() => ({})) : { detail: await res.text() };
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function refreshOnce() {
  if (!refreshing) {
    const token = current && current.refresh;
    refreshing = (async () => {
      if (!token) throw new ApiError(401, { code: 'session_expired' });
      const answer = await send('POST', '/v1/auth/refresh', { body: { refresh_token: token } });
      session.start(answer);
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/**
 * api calls the API as the signed-in resident (auth: false for the calls
 * that need no token) and resolves with the decoded answer.
 */
export async function api(method, path, { body, idempotencyKey, auth = true } = {}) {
  if (refreshing && auth) await refreshing.catch(() => {});
  const token = auth && current ? current.access : undefined;
  try {
    return await send(method, path, { body, idempotencyKey, token });
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401 || !token || !current) throw e;
    // Another call may have refreshed the tokens meanwhile: then just retry.
    if (current.access === token) {
      try {
        await refreshOnce();
      } catch (re) {
        if (current) session.end('expired');
        throw new ApiError(401, { code: 'session_expired', detail: re.detail || re.message });
      }
    }
    if (!current) throw new ApiError(401, { code: 'session_expired' });
    return send(method, path, { body, idempotencyKey, token: current.access });
  }
}

/** newKey makes an Idempotency-Key (a random UUID). */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
