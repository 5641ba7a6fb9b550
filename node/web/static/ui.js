// The page's shared pieces of UI: which view is shown, the status line, the
// chat log and the error list.

const ERROR_SHOW_MS = 8000;

export const $ = (id) => document.getElementById(id);

// errors keeps every error shown, for report.js.
export const errors = [];

export function showView(id) {
  for (const v of ['join-view', 'room-view', 'left-view']) $(v).hidden = v !== id;
}

export function showJoinForm(room, name, region) {
  showView('join-view');
  const form = $('join-form');
  form.room.value = room;
  form.name.value = name || localStorage.getItem('switchyard.name') || '';
  form.region.value = region || localStorage.getItem('switchyard.region') || '';
  (room ? form.name : form.room).focus();
  form.onsubmit = (e) => {
    e.preventDefault();
    const q = new URLSearchParams({ name: form.name.value.trim() });
    const r = form.region.value.trim();
    if (r) q.set('region', r);
    const token = new URLSearchParams(location.search).get('token');
    if (token) q.set('token', token); // the link the participant was given
    localStorage.setItem('switchyard.name', form.name.value.trim());
    localStorage.setItem('switchyard.region', r);
    location.assign(`/r/${encodeURIComponent(form.room.value.trim())}?${q}`);
  };
}

export function setStatus(text) {
  $('status').textContent = text;
}

export function addChat(who, text, cls = '') {
  const li = document.createElement('li');
  if (cls) li.className = cls;
  if (who) {
    const w = document.createElement('span');
    w.className = 'who';
    w.textContent = who;
    li.append(w);
  }
  li.append(document.createTextNode(text));
  const log = $('chat-log');
  log.append(li);
  log.scrollTop = log.scrollHeight;
}

export function showError(text, sticky = false) {
  errors.push(text);
  console.error('switchyard:', text);
  const li = document.createElement('li');
  li.textContent = text;
  $('errors').append(li);
  if (!sticky) setTimeout(() => li.remove(), ERROR_SHOW_MS);
}
