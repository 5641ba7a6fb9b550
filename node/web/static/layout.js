// Where each tile goes, and so how tall each participant's video is drawn:
// the speaker view (one large tile, the others in a strip below, a sharer's
// camera as a picture in picture) and the grid view (equal 16:9 tiles, as
// large as fit). Pure: the page positions tiles with these rectangles and
// derives the `constraints` heights from the same numbers.

export const ASPECT = 16 / 9;
export const GAP = 8;
const STRIP_MIN_W = 96;

const rect = (x, y, w, h, role) => ({ x: Math.round(x), y: Math.round(y), w: Math.round(w), h: Math.round(h), role });
const HIDDEN = Object.freeze({ x: 0, y: 0, w: 0, h: 0, role: 'hidden' });

export const isScreen = (key) => key.endsWith('/screen');
export const ownerOf = (key) => (isScreen(key) ? key.slice(0, -'/screen'.length) : key);

// pickMain chooses the large tile of the speaker view: the pinned tile, else
// a screen share, else the dominant speaker, else the previous choice (so the
// stage does not jump to yourself when you talk), else the first remote tile,
// else yourself.
export function pickMain({ keys, pinned = '', dominant = '', previous = '', self = 'self' }) {
  const has = (k) => !!k && keys.includes(k);
  if (has(pinned)) return pinned;
  const share = keys.find(isScreen);
  if (share) return share;
  if (has(dominant) && dominant !== self) return dominant;
  if (has(previous) && previous !== self) return previous;
  return keys.find((k) => k !== self) || (has(self) ? self : '');
}

// gridColumns finds the column count that makes n tiles of the given aspect
// largest in a w x h box.
export function gridColumns(n, w, h, aspect = ASPECT, gap = GAP) {
  let best = 1;
  let bestW = -1;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const tw = Math.min((w - (cols - 1) * gap) / cols, ((h - (rows - 1) * gap) / rows) * aspect);
    if (tw > bestW + 0.01) {
      bestW = tw;
      best = cols;
    }
  }
  return best;
}

// computeLayout returns key -> {x, y, w, h, role} for a box of w x h:
// role is main, pip, strip, grid or hidden (no room; drawn nowhere).
export function computeLayout({ view, keys, main = '', box }) {
  const out = new Map();
  const W = Math.max(0, box.w || 0);
  const H = Math.max(0, box.h || 0);
  if (keys.length === 0) return out;
  if (view === 'grid' || !main || !keys.includes(main)) {
    gridInto(out, keys, 0, 0, W, H);
    return out;
  }
  const others = keys.filter((k) => k !== main);
  // A shared screen keeps its sharer's face in its corner.
  const pipKey = isScreen(main) && others.includes(ownerOf(main)) ? ownerOf(main) : '';
  const strip = others.filter((k) => k !== pipKey);
  const stripH = strip.length ? Math.max(56, Math.min(140, Math.round(H * 0.18))) : 0;
  const mainH = Math.max(0, H - (strip.length ? stripH + GAP : 0));
  out.set(main, rect(0, 0, W, mainH, 'main'));
  if (pipKey) {
    const pw = Math.max(STRIP_MIN_W, Math.min(240, W * 0.2));
    const ph = pw / ASPECT;
    out.set(pipKey, rect(W - pw - GAP, mainH - ph - GAP, pw, ph, 'pip'));
  }
  if (strip.length) {
    let tw = stripH * ASPECT;
    let fit = Math.max(1, Math.floor((W + GAP) / (tw + GAP)));
    if (strip.length > fit) {
      tw = Math.max(STRIP_MIN_W, (W - (strip.length - 1) * GAP) / strip.length);
      fit = Math.max(1, Math.floor((W + GAP) / (tw + GAP)));
    }
    const th = Math.min(stripH, tw / ASPECT);
    const shown = Math.min(fit, strip.length);
    const x0 = (W - (shown * tw + (shown - 1) * GAP)) / 2;
    strip.forEach((k, i) => {
      out.set(k, i < shown ? rect(x0 + i * (tw + GAP), mainH + GAP + (stripH - th) / 2, tw, th, 'strip') : HIDDEN);
    });
  }
  return out;
}

function gridInto(out, keys, x, y, W, H) {
  const n = keys.length;
  const cols = gridColumns(n, W, H);
  const rows = Math.ceil(n / cols);
  const tw = Math.max(0, Math.min((W - (cols - 1) * GAP) / cols, ((H - (rows - 1) * GAP) / rows) * ASPECT));
  const th = tw / ASPECT;
  const y0 = y + (H - (rows * th + (rows - 1) * GAP)) / 2;
  keys.forEach((k, i) => {
    const row = Math.floor(i / cols);
    // The last row, when short, is centred.
    const inRow = row === rows - 1 ? n - row * cols : cols;
    const x0 = x + (W - (inRow * tw + (inRow - 1) * GAP)) / 2;
    out.set(k, rect(x0 + (i % cols) * (tw + GAP), y0 + row * (th + GAP), tw, th, 'grid'));
  });
}

// shownHeight is how tall a video of the given aspect is drawn in a tile of
// w x h with object-fit: contain.
export function shownHeight(w, h, aspect = ASPECT) {
  if (!(w > 0) || !(h > 0)) return 0;
  return Math.min(h, w / (aspect > 0 ? aspect : ASPECT));
}

// constraintHeights turns a layout into the `constraints` message's tiles:
// per publisher's camera (its id) and screen share ("<id>/screen"), the
// height in device pixels its tile is drawn at; 0 when none is drawn. Keys
// not in pids (yourself) are left out.
// override replaces a tile's rectangle (the full-screen tile); aspects gives a
// tile's video aspect when known.
export function constraintHeights(layout, { pids, dpr = 1, override = null, aspects = {} }) {
  const out = {};
  for (const pid of pids) out[pid] = 0;
  for (const [key, r] of layout) {
    const pid = ownerOf(key);
    if (!(pid in out)) continue;
    // A hidden tile's rectangle is empty, so it asks for 0.
    const use = override?.key === key ? override : r;
    const h = Math.min(8192, Math.round(shownHeight(use.w, use.h, aspects[key]) * dpr));
    out[key] = Math.max(out[key] || 0, h);
  }
  return out;
}
