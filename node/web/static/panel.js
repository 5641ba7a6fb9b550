// The participant list: everyone's name and whether their microphone and
// camera are on, who shares, who records and who encrypts end to end
// (those who only watch and listen, and so have no tile, are here too);
// for a moderator, buttons to mute or remove a participant on the same node.

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
};

// marks lists the state marks of a participant, for the list and tests.
export function marks(p) {
  const out = [];
  out.push(p.mic_off ? { cls: 'mic off', text: '🔇', label: 'microphone off' } : { cls: 'mic', text: '🎙', label: 'microphone on' });
  out.push(p.camera_off ? { cls: 'cam off', text: '🚫', label: 'camera off' } : { cls: 'cam', text: '📷', label: 'camera on' });
  if (p.sharing) out.push({ cls: 'share', text: '🖥', label: 'sharing the screen' });
  if (p.recording) out.push({ cls: 'rec', text: '●', label: 'recording' });
  if (p.moderator) out.push({ cls: 'mod', text: '★', label: 'moderator' });
  if (p.e2ee) out.push({ cls: 'e2ee', text: '🔒', label: 'end-to-end encrypted' });
  return out;
}

export class PeoplePanel {
  // send(msg) sends a signaling message (kick, mute); recEl is the
  // call's recording indicator.
  constructor(listEl, countEl, recEl, send) {
    this.list = listEl;
    this.count = countEl;
    this.recEl = recEl;
    this.send = send;
  }

  // render lists self first, then the others by name. moderator: this
  // participant may kick and mute; localNode: actions reach only
  // participants on this node.
  render(self, participants, { moderator = false, localNode = '' } = {}) {
    if (!this.list) return;
    this.list.textContent = '';
    const others = [...participants.values()].sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id));
    if (this.count) this.count.textContent = String(others.length + (self ? 1 : 0));
    if (self) this.list.append(this.row(self, true, false, localNode));
    for (const p of others) this.list.append(this.row(p, false, moderator, localNode));
    const recorders = others.filter((p) => p.recording).map((p) => p.name || p.id);
    if (self?.recording) recorders.unshift('you');
    if (this.recEl) {
      this.recEl.hidden = recorders.length === 0;
      this.recEl.title = `Recording this meeting: ${recorders.join(', ')}`;
    }
  }

  row(p, isSelf, moderator, localNode) {
    const li = el('li', 'person');
    li.dataset.id = p.id;
    li.append(el('span', 'person-name', isSelf ? `${p.name} (you)` : p.name || p.id));
    const m = el('span', 'person-marks');
    for (const k of marks(p)) {
      const s = el('span', k.cls, k.text);
      s.title = k.label;
      s.setAttribute?.('aria-label', k.label);
      m.append(s);
    }
    li.append(m);
    if (moderator && !isSelf) {
      const elsewhere = !!p.node && !!localNode && p.node !== localNode;
      const why = elsewhere ? `On node ${p.node}: moderators act on this node's participants only` : '';
      const mute = el('button', 'secondary small mute', 'Mute');
      mute.type = 'button';
      mute.title = why || `Mute ${p.name || p.id}'s microphone`;
      mute.setAttribute?.('aria-label', mute.title);
      mute.disabled = elsewhere || p.mic_off;
      mute.onclick = () => this.send({ type: 'mute', id: p.id, muted: true });
      const kick = el('button', 'danger small kick', 'Remove');
      kick.type = 'button';
      kick.title = why || `Remove ${p.name || p.id} from the call`;
      kick.setAttribute?.('aria-label', kick.title);
      kick.disabled = elsewhere;
      kick.onclick = () => {
        if (globalThis.confirm && !globalThis.confirm(`Remove ${p.name || p.id} from the call?`)) return;
        this.send({ type: 'kick', id: p.id });
      };
      li.append(mute, kick);
    }
    return li;
  }
}
