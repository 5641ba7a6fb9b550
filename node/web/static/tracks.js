// Which publisher and source each m-line carries, both ways: the names of
// the client's own sending m-lines for its first offer, and who is behind
// every receiving m-line of the node's offers. Pure, so tested under node.

export const SOURCES = ['mic', 'camera', 'screen'];

// sourcesFor names the client's publishing transceivers by mid, once
// setLocalDescription has given them mids: {mid: 'mic'|'camera'|'screen'}.
export function sourcesFor(named) {
  const out = {};
  for (const [source, t] of Object.entries(named)) {
    if (SOURCES.includes(source) && t && typeof t.mid === 'string') out[t.mid] = source;
  }
  return out;
}

// cleanTracks validates an offer's `tracks` map; null when the offer has none
// (an older node), so the caller falls back to stream ids.
export function cleanTracks(tracks) {
  if (!tracks || typeof tracks !== 'object' || Array.isArray(tracks)) return null;
  const out = {};
  for (const [mid, t] of Object.entries(tracks)) {
    if (!t || typeof t.publisher !== 'string' || !t.publisher || !SOURCES.includes(t.source)) continue;
    out[mid] = { publisher: t.publisher, source: t.source };
  }
  return out;
}

// mapIncoming says whose each receiving m-line is: mid -> {pid, source, kind}.
// receiving lists {mid, kind, streamId, trackId} of the transceivers that
// currently receive; tracks is cleanTracks' result. Without tracks the
// stream id names the publisher (the node sets it to the participant id) and
// the track id or the kind names the source.
export function mapIncoming(receiving, tracks) {
  const out = new Map();
  for (const r of receiving) {
    if (r.mid == null) continue;
    if (tracks) {
      const t = tracks[r.mid];
      // A source that contradicts the m-line's kind is a node bug; skip it
      // rather than put sound in a video element.
      if (t && (t.source === 'mic') === (r.kind === 'audio')) {
        out.set(r.mid, { pid: t.publisher, source: t.source, kind: r.kind });
      }
      continue;
    }
    if (!r.streamId) continue;
    let source = r.kind === 'audio' ? 'mic' : 'camera';
    if (r.kind === 'video' && r.trackId === 'screen') source = 'screen';
    out.set(r.mid, { pid: r.streamId, source, kind: r.kind });
  }
  return out;
}

// diffIncoming lists what changed between two mapIncoming results: gone
// (mid and its old owner) and added (mid and its new owner); an m-line that
// moved to another publisher or source appears in both.
export function diffIncoming(prev, next) {
  const gone = [];
  const added = [];
  for (const [mid, was] of prev) {
    const now = next.get(mid);
    if (!now || now.pid !== was.pid || now.source !== was.source) gone.push({ mid, ...was });
  }
  for (const [mid, now] of next) {
    const was = prev.get(mid);
    if (!was || now.pid !== was.pid || now.source !== was.source) added.push({ mid, ...now });
  }
  return { gone, added };
}

// tileKey names the tile a track is shown in: a participant's camera and
// microphone share one tile, a screen share has its own.
export function tileKey(pid, source) {
  return source === 'screen' ? `${pid}/screen` : pid;
}

// withMedia lists the participants who have a microphone or camera track
// (muted or off or not): mids is mapIncoming's result. Only they get a
// tile; a participant who only watches and listens does not.
export function withMedia(mids) {
  const out = new Set();
  for (const m of mids.values()) if (m.source === 'mic' || m.source === 'camera') out.add(m.pid);
  return out;
}

// showsSelf says whether this participant gets a tile of its own: it can
// publish and has a microphone or a camera (on or muted).
export function showsSelf({ mic, cam, publish }) {
  return !!publish && (!!mic || !!cam);
}
