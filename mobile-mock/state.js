// What the screens share: the town's zones, the resident's last search and
// its results (kept for the tab, so the car screen survives a reload).

import { api } from './api.js';

const SEARCH_KEY = 'hq.search';

function loadSearch() {
  try {
    return JSON.parse(sessionStorage.getItem(SEARCH_KEY) || 'null') || {};
  } catch {
    return {};
  }
}

export const state = {
  zones: null,
  search: loadSearch(), // {params: {...}, offers: [...], at}
};

/** saveSearch keeps the search form and its results for this tab. */
export function saveSearch(search) {
  state.search = search;
  sessionStorage.setItem(SEARCH_KEY, JSON.stringify(search));
}

/** zones loads the town's zones once (a public call). */
export async function zones() {
  if (!state.zones) {
    const list = await api('GET', '/v1/zones', { auth: false });
    state.zones = list.items.filter((z) => z.active);
  }
  return state.zones;
}

/** offer finds a car of the last search. */
export function offer(vehicleId) {
  return (state.search.offers || []).find((o) => o.vehicle.id === vehicleId) || null;
}
