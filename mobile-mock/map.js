// A drawn map of Hongqi Town: the zones (stations as circles of their
// radius, areas as their polygon) and the cars found, projected from their
// coordinates. No tiles, nothing fetched.

import { s } from './dom.js';
import { pick } from './i18n.js';

const W = 360;
const H = 230;
const PAD_X = 26;
const PAD_TOP = 16;
const PAD_BOTTOM = 30; // room for the labels under the lowest zones
const M_PER_DEG = 111320;

/**
 * townMap draws zones and offers; the selected zone is highlighted with the
 * search radius around it, and tapping a zone calls onSelect(zone).
 */
export function townMap({ zones, offers = [], selectedId, radiusM, onSelect }) {
  const pts = [];
  for (const z of zones) {
    pts.push(z.location);
    if (z.polygon) for (const [lng, lat] of z.polygon.coordinates[0]) pts.push({ lat, lng });
  }
  for (const o of offers) pts.push(o.position);
  const lat0 = pts.reduce((a, p) => a + p.lat, 0) / pts.length;
  const kx = Math.cos((lat0 * Math.PI) / 180);
  const xs = pts.map((p) => p.lng * kx);
  const ys = pts.map((p) => p.lat);
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = Math.min((W - 2 * PAD_X) / (maxX - minX || 1e-3), (H - PAD_TOP - PAD_BOTTOM) / (maxY - minY || 1e-3));
  const ox = (W - (maxX - minX) * scale) / 2;
  const oy = PAD_TOP + (H - PAD_TOP - PAD_BOTTOM - (maxY - minY) * scale) / 2;
  const x = (p) => ox + (p.lng * kx - minX) * scale;
  const y = (p) => oy + (maxY - p.lat) * scale;
  const px = (m) => (m / M_PER_DEG) * scale; // metres → pixels
  const f = (n) => n.toFixed(1);

  const grid = [];
  for (let gx = 0; gx <= W; gx += 30) grid.push(s('line', { x1: gx, y1: 0, x2: gx, y2: H, class: 'grid' }));
  for (let gy = 0; gy <= H; gy += 30) grid.push(s('line', { x1: 0, y1: gy, x2: W, y2: gy, class: 'grid' }));

  const selected = zones.find((z) => z.id === selectedId);
  const layers = [s('rect', { x: 0, y: 0, width: W, height: H, class: 'land' }), ...grid];
  if (selected && radiusM) {
    layers.push(s('circle', { cx: f(x(selected.location)), cy: f(y(selected.location)), r: f(px(radiusM)), class: 'radius' }));
  }
  for (const z of zones) {
    const cls = `zone ${z.id === selectedId ? 'selected' : ''}`;
    const label = pick(z.name_zh, z.name_en).replace(/站$/, '');
    const shape = z.kind === 'area' && z.polygon
      ? s('polygon', { points: z.polygon.coordinates[0].map(([lng, lat]) => `${f(x({ lat, lng }))},${f(y({ lat, lng }))}`).join(' ') })
      : s('circle', { cx: f(x(z.location)), cy: f(y(z.location)), r: f(Math.max(px(z.radius_m || 100), 7)) });
    const g = s('g', { class: cls, role: 'button', tabindex: 0, 'aria-label': pick(z.name_zh, z.name_en), testid: `map-zone-${z.code}` },
      shape,
      s('text', { x: f(x(z.location)), y: f(y(z.location) + Math.max(px(z.radius_m || 100), 7) + 10), class: 'label' }, label));
    if (onSelect) {
      g.addEventListener('click', () => onSelect(z));
      g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') onSelect(z); });
    }
    layers.push(g);
  }
  for (const o of offers) {
    layers.push(s('circle', { cx: f(x(o.position)), cy: f(y(o.position)), r: 3.2, class: `car pt-${o.vehicle.powertrain}` },
      s('title', {}, `${o.vehicle.model} ${o.vehicle.plate}`)));
  }
  return s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'town-map', role: 'img', testid: 'map' }, layers);
}
