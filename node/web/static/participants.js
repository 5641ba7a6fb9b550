// Who is in the conference and in what state, from the node's messages:
// a pure reducer over joined / participant-joined / participant-updated /
// participant-left, so the page and the tests see the same rules.

const MAX_TEXT = 64;
export const FLAGS = ['mic_off', 'camera_off', 'sharing', 'recording', 'moderator', 'e2ee'];

function text(v) {
  return typeof v === 'string' ? v.slice(0, MAX_TEXT) : '';
}

// normalize keeps only well-typed fields of a participant object from the
// network; null when it has no usable id.
export function normalize(p) {
  if (!p || typeof p !== 'object' || typeof p.id !== 'string' || !p.id || p.id.length > 96) return null;
  const out = { id: p.id, name: text(p.name), region: text(p.region), node: text(p.node) };
  for (const f of FLAGS) out[f] = p[f] === true;
  return out;
}

// reduceParticipants returns the participant map (id -> participant) after
// msg, never including self; the input map is not changed. Unknown or
// malformed messages return the map as it was.
export function reduceParticipants(state, msg, selfId) {
  switch (msg?.type) {
    case 'joined': {
      const next = new Map();
      for (const raw of Array.isArray(msg.participants) ? msg.participants : []) {
        const p = normalize(raw);
        if (p && p.id !== msg.id) next.set(p.id, p);
      }
      return next;
    }
    case 'participant-joined':
    case 'participant-updated': {
      const p = normalize(msg.participant);
      if (!p || p.id === selfId) return state;
      const next = new Map(state);
      const prev = state.get(p.id);
      // An update may come from a node that does not know every field yet;
      // names and places do not go blank because of it.
      next.set(p.id, prev ? { ...p, name: p.name || prev.name, region: p.region || prev.region, node: p.node || prev.node } : p);
      return next;
    }
    case 'participant-left': {
      if (!state.has(msg.id)) return state;
      const next = new Map(state);
      next.delete(msg.id);
      return next;
    }
    default:
      return state;
  }
}

// selfUpdate returns the flags the node reports for this participant in a
// participant-updated message (a moderator muted it), or null.
export function selfUpdate(msg, selfId) {
  if (msg?.type !== 'participant-updated') return null;
  const p = normalize(msg.participant);
  return p && p.id === selfId ? p : null;
}

// initials gives up to two letters for an avatar: the first letters of the
// first and last words, or the first two of a single word.
export function initials(name) {
  const words = String(name || '').trim().split(/[\s._-]+/u).filter(Boolean);
  if (words.length === 0) return '?';
  const first = (w) => [...w][0] || '';
  if (words.length === 1) return [...words[0]].slice(0, 2).join('').toUpperCase();
  return (first(words[0]) + first(words[words.length - 1])).toUpperCase();
}

// tokenName reads the display name a join token carries (the node checks
// the token; this only shows the name before joining).
export function tokenName(token) {
  try {
    const part = String(token).split('.')[1] || '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    return String(JSON.parse(json).name || '').slice(0, MAX_TEXT);
  } catch {
    return '';
  }
}
