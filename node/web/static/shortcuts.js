// Keyboard shortcuts of the call: one key each, never while the user types
// in a field or holds a modifier (browser and system shortcuts win).

export const SHORTCUTS = [
  { key: 'm', action: 'mic', help: 'Mute or unmute the microphone' },
  { key: 'v', action: 'camera', help: 'Turn the camera off or on' },
  { key: 's', action: 'share', help: 'Share the screen, or stop' },
  { key: 'g', action: 'view', help: 'Switch between speaker and grid view' },
  { key: 'f', action: 'fullscreen', help: 'Full screen the focused tile (or the large one)' },
  { key: 'r', action: 'record', help: 'Record the meeting locally, or stop' },
  { key: '?', action: 'help', help: 'Show or hide these shortcuts' },
];

const TYPING_TAGS = new Set(['INPUT', 'TEXTAREA', 'SELECT']);

// isTyping says whether keys pressed in el go to a text field.
export function isTyping(el) {
  if (!el) return false;
  if (el.isContentEditable) return true;
  return TYPING_TAGS.has(String(el.tagName || '').toUpperCase());
}

// shortcutFor maps a keydown event to an action name, or null.
export function shortcutFor(e) {
  if (!e || e.ctrlKey || e.metaKey || e.altKey || e.repeat || e.isComposing) return null;
  if (isTyping(e.target)) return null;
  const key = typeof e.key === 'string' ? e.key : '';
  const k = key.length === 1 ? key.toLowerCase() : '';
  // Shift is allowed for '?', which needs it on most layouts.
  if (e.shiftKey && k !== '?') return null;
  return SHORTCUTS.find((s) => s.key === k)?.action ?? null;
}

// installShortcuts calls actions[action]() for each shortcut pressed on target.
export function installShortcuts(target, actions) {
  const onKey = (e) => {
    const action = shortcutFor(e);
    if (!action || !actions[action]) return;
    e.preventDefault();
    actions[action]();
  };
  target.addEventListener('keydown', onKey);
  return () => target.removeEventListener('keydown', onKey);
}
