// Opening the devices: joining with both the microphone and the camera
// off opens neither (watching and listening only); otherwise it settles for
// what it gets.
import './harness.mjs';
import { eq } from './assert.mjs';
import { LocalMedia } from './media.js';

const asked = [];
navigator.mediaDevices.getUserMedia = async (c) => {
  asked.push(Object.keys(c).sort().join('+'));
  return new MediaStream(c.video ? [{ kind: 'video', stop() {} }] : [{ kind: 'audio', stop() {} }]);
};
const cases = [
  [{ micOff: true, camOff: true }, [], false, false, 'both off: nothing opened'],
  [{ micOff: true, camOff: false }, ['audio+video'], false, true, 'microphone muted, camera on'],
  [{ micOff: false, camOff: true }, ['audio'], true, false, 'camera off'],
];
for (const [prefs, want, mic, cam, what] of cases) {
  asked.length = 0;
  const m = new LocalMedia(prefs);
  eq(await m.open(), '', `${what}: no problem`);
  eq([asked, !!m.mic, !!m.cam], [want, mic, cam], what);
}
console.log('ok');
