// The page's shared pieces of UI: which view is shown, the status line, the
// chat log and the error list.

const ERROR_SHOW_MS = 8000;

export const $ = (id) => document.getElementById(id);

// errors keeps every error shown, for report.js.
export const errors = [];

export function showView(id) {
  for (const v of ['join-view', 'room-view', 'left-view']) $(v).hidden = v !== id;
}

// wireChat sends what is typed in the chat box; send(text) returns false
// when it could not.
export function wireChat(send) {
  $('chat-form').onsubmit = (e) => {
    e.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text) return;
    if (!send(text)) {
      showError('Not connected: the message was not sent.');
      return;
    }
    addChat('you', text, 'me');
    input.value = '';
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
