// The page of `s3d-nerf serve` (ts/serve/server.ts). Plain browser JavaScript,
// no build step, no third-party code.
//
// 1. The photo goes up at once (POST /api/photo): the server finds and encodes
//    the face, so a photo without one is reported before any speech is given.
// 2. Speech (a file, or the microphone through MediaRecorder) starts a job:
//    POST /api/jobs, then GET .../events (a stream of binary messages, see
//    ts/serve/protocol.ts) and PUT .../audio at the same time.
// 3. Preview frames (JPEG) are drawn on the canvas at the video's frame rate
//    as they arrive; at the end the mp4 (with the speech) plays and can be
//    downloaded.
'use strict';

const $ = (id) => document.getElementById(id);
const MSG_JSON = 1;
const MSG_FRAME = 2;
const MAX_QUEUED_BITMAPS = 250;

/** What the page is doing; also read by the browser test (tests/serve-browser.test.mjs). */
const state = {
  phase: 'idle', // idle | photo | ready | uploading | queued | rendering | done | error
  photo: null, // photo id on the server
  photoFile: null,
  job: null, // { id, controller, total, done, ... }
  framesReceived: 0,
  framesDrawn: 0,
  queuePositions: [],
  maxUploadBytes: 25 << 20,
  fps: 25,
  error: '',
};
window.s3d = state;

function setPhase(phase) {
  state.phase = phase;
  document.body.dataset.phase = phase;
}

function status(text) {
  $('status').textContent = text;
}

function showError(message) {
  const line = String(message).replace(/\s*\n\s*/g, ' ').trim();
  state.error = line;
  $('error').textContent = line;
  $('error').hidden = false;
  setPhase('error');
}

function clearError() {
  state.error = '';
  $('error').hidden = true;
  $('error').textContent = '';
}

function mib(n) {
  return `${(n / 1048576).toFixed(n < 10 * 1048576 ? 1 : 0)} MiB`;
}

async function readJson(res) {
  try {
    return await res.json();
  } catch {
    return {};
  }
}

function errorOf(res, body) {
  return body && body.error ? body.error : `The server answered ${res.status} ${res.statusText}`;
}

// ------------------------------------------------------------------ server

async function loadInfo() {
  try {
    const res = await fetch('/api/info');
    const info = await res.json();
    state.maxUploadBytes = info.maxUploadBytes;
    state.fps = info.fps;
    $('server-info').textContent =
      `Model ${info.imageSize}px on ${info.backend} (${info.threads} thread${info.threads === 1 ? '' : 's'}, ${info.precision} precision) · uploads up to ${mib(info.maxUploadBytes)}` +
      (info.ffmpeg ? '' : ' · no ffmpeg: WAV only, no mp4');
  } catch {
    $('server-info').textContent = 'The server does not answer.';
  }
}

// ------------------------------------------------------------------- photo

async function handlePhoto(file) {
  if (!file) return;
  clearError();
  cancelJob();
  state.photo = null;
  state.photoFile = file;
  const img = $('photo-preview');
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(file);
  img.hidden = false;
  $('drop-text').textContent = file.name || 'photo';
  if (file.size > state.maxUploadBytes) {
    $('photo-status').textContent = '';
    showError(`The photo is ${mib(file.size)}, more than the ${mib(state.maxUploadBytes)} upload limit.`);
    return;
  }
  setPhase('photo');
  const aligned = $('aligned').checked;
  $('photo-status').textContent = aligned ? 'Encoding the face crop…' : 'Finding the face…';
  let res;
  let body;
  try {
    res = await fetch(`/api/photo${aligned ? '?aligned=1' : ''}`, {
      method: 'POST',
      body: file,
      headers: { 'Content-Type': file.type || 'application/octet-stream' },
    });
    body = await readJson(res);
  } catch (err) {
    $('photo-status').textContent = '';
    showError(`Cannot upload the photo: ${err.message}`);
    return;
  }
  if (state.photoFile !== file) return; // another photo was chosen meanwhile
  if (!res.ok) {
    $('photo-status').textContent = '';
    showError(errorOf(res, body));
    return;
  }
  state.photo = body.id;
  $('photo-status').textContent = `Face found (${body.width}×${body.height} photo). Now upload or record speech.`;
  setPhase('ready');
  status('Ready: give the speech.');
}

// ------------------------------------------------------------------- audio

let recorder = null;
let recTimer = 0;

async function startRecording() {
  clearError();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof MediaRecorder === 'undefined') {
    showError('The microphone needs a secure page: open this page on localhost or 127.0.0.1 (or through https).');
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
  } catch (err) {
    showError(`Cannot use the microphone: ${err.message || err.name}`);
    return;
  }
  const mime = ['audio/webm;codecs=opus', 'audio/webm', 'audio/ogg;codecs=opus', 'audio/mp4'].find((t) => MediaRecorder.isTypeSupported(t));
  const rec = new MediaRecorder(stream, mime ? { mimeType: mime } : undefined);
  const chunks = [];
  let bytes = 0;
  rec.ondataavailable = (e) => {
    if (e.data && e.data.size > 0) {
      chunks.push(e.data);
      bytes += e.data.size;
      if (bytes > state.maxUploadBytes * 0.95 && rec.state === 'recording') rec.stop();
    }
  };
  rec.onstop = () => {
    for (const t of stream.getTracks()) t.stop();
    clearInterval(recTimer);
    recorder = null;
    $('record').disabled = false;
    $('record').classList.remove('on');
    $('stop').disabled = true;
    const blob = new Blob(chunks, { type: rec.mimeType || mime || 'audio/webm' });
    $('rec-time').textContent = `recorded ${(blob.size / 1024).toFixed(0)} KiB`;
    if (blob.size === 0) showError('Nothing was recorded.');
    else startJob(blob);
  };
  recorder = rec;
  const t0 = performance.now();
  rec.start(250);
  $('record').disabled = true;
  $('record').classList.add('on');
  $('stop').disabled = false;
  $('rec-time').textContent = 'recording 0.0 s';
  recTimer = setInterval(() => {
    $('rec-time').textContent = `recording ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  }, 100);
}

function stopRecording() {
  if (recorder && recorder.state === 'recording') recorder.stop();
}

// --------------------------------------------------------------------- job

const canvas = $('canvas');
const ctx = canvas.getContext('2d');
let queue = []; // decoded frames waiting to be drawn: { index, bitmap }
let player = 0;

function cancelJob() {
  const job = state.job;
  if (job && !job.ended) {
    job.ended = true;
    job.controller.abort(); // closes the event stream: the server stops the render
  }
  for (const f of queue) f.bitmap.close();
  queue = [];
  clearInterval(player);
  player = 0;
}

function resetOutput() {
  $('download').hidden = true;
  $('download').removeAttribute('href');
  const video = $('video');
  video.hidden = true;
  video.removeAttribute('src');
  video.load();
  canvas.hidden = false;
  $('progress').value = 0;
  $('progress').max = 1;
  state.framesReceived = 0;
  state.framesDrawn = 0;
  state.queuePositions = [];
}

async function startJob(blob, retried = false) {
  clearError();
  if (!state.photo) {
    showError('Choose a photo with a face first.');
    return;
  }
  if (blob.size > state.maxUploadBytes) {
    showError(`The audio is ${mib(blob.size)}, more than the ${mib(state.maxUploadBytes)} upload limit.`);
    return;
  }
  cancelJob();
  resetOutput();
  const job = { id: '', controller: new AbortController(), total: 0, rendered: 0, done: null, ended: false, t0: performance.now(), fps: state.fps };
  state.job = job;
  setPhase('uploading');
  status('Uploading the speech…');
  let res;
  let body;
  try {
    res = await fetch(`/api/jobs?photo=${encodeURIComponent(state.photo)}`, { method: 'POST', signal: job.controller.signal });
    body = await readJson(res);
  } catch (err) {
    if (!job.ended) showError(`Cannot reach the server: ${err.message}`);
    return;
  }
  if (res.status === 404 && body.code === 'ERR_NOT_FOUND' && state.photoFile && !retried) {
    // The server let the photo expire (30 minutes, or many other photos since): send it again.
    await handlePhoto(state.photoFile);
    if (state.photo) return startJob(blob, true);
    return;
  }
  if (!res.ok) {
    showError(errorOf(res, body));
    return;
  }
  job.id = body.id;
  job.videoUrl = body.video;
  // The event stream first, then the upload (frames can come before it ends).
  const events = fetch(body.events, { signal: job.controller.signal, cache: 'no-store' })
    .then((r) => (r.ok ? readEvents(r.body, job) : readJson(r).then((b) => Promise.reject(new Error(errorOf(r, b))))))
    .catch((err) => {
      if (!job.ended && state.job === job) {
        job.ended = true;
        showError(err.name === 'AbortError' ? 'Stopped.' : `The connection to the server was lost: ${err.message}`);
      }
    });
  try {
    const up = await fetch(body.audio, {
      method: 'PUT',
      body: blob,
      headers: { 'Content-Type': blob.type || 'application/octet-stream' },
      signal: job.controller.signal,
    });
    const upBody = await readJson(up);
    if (!up.ok && state.job === job && !state.error) {
      job.ended = true;
      showError(errorOf(up, upBody));
      job.controller.abort();
    }
  } catch (err) {
    if (!job.ended && state.job === job) showError(`Cannot upload the speech: ${err.message}`);
  }
  await events;
}

function concat(a, b) {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

async function readEvents(body, job) {
  const reader = body.getReader();
  let buf = new Uint8Array(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf = concat(buf, value);
    while (buf.length >= 5) {
      const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      const type = view.getUint8(0);
      const len = view.getUint32(1);
      if (buf.length < 5 + len) break;
      const payload = buf.slice(5, 5 + len);
      buf = buf.slice(5 + len);
      if (state.job !== job) return;
      if (type === MSG_JSON) onEvent(job, JSON.parse(new TextDecoder().decode(payload)));
      else if (type === MSG_FRAME) onFrame(job, payload);
    }
  }
  if (state.job === job && !job.ended) {
    job.ended = true;
    showError('The server closed the connection before the end of the render.');
  }
}

function onEvent(job, e) {
  switch (e.type) {
    case 'waiting':
      status('Uploading the speech…');
      break;
    case 'queued':
      state.queuePositions.push(e.position);
      setPhase('queued');
      status(`Queued, position ${e.position} (${e.ahead} render${e.ahead === 1 ? '' : 's'} ahead)`);
      break;
    case 'started':
      setPhase('rendering');
      job.fps = e.fps;
      canvas.width = e.previewWidth;
      canvas.height = e.previewHeight;
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      status(`Rendering (${e.width}×${e.height}, ${e.fps} fps, ${e.audio} audio)…`);
      startPlayer(job);
      break;
    case 'total':
      job.total = e.frames;
      $('progress').max = e.frames;
      break;
    case 'done':
      job.done = e;
      job.ended = true;
      break;
    case 'error':
      job.ended = true;
      clearInterval(player);
      showError(e.message);
      break;
  }
}

function onFrame(job, payload) {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const index = view.getUint32(0);
  const jpeg = payload.subarray(8);
  state.framesReceived++;
  job.rendered = Math.max(job.rendered, index + 1);
  $('progress').value = job.rendered;
  createImageBitmap(new Blob([jpeg], { type: 'image/jpeg' })).then(
    (bitmap) => {
      if (state.job !== job) return bitmap.close();
      let i = queue.length;
      while (i > 0 && queue[i - 1].index > index) i--;
      queue.splice(i, 0, { index, bitmap });
      while (queue.length > MAX_QUEUED_BITMAPS) queue.shift().bitmap.close(); // far behind: skip ahead
    },
    () => {},
  );
}

function startPlayer(job) {
  clearInterval(player);
  player = setInterval(() => {
    if (state.job !== job) return;
    const f = queue.shift();
    if (f) {
      ctx.drawImage(f.bitmap, 0, 0, canvas.width, canvas.height);
      f.bitmap.close();
      state.framesDrawn++;
    }
    if (!job.done || state.phase === 'error') {
      if (state.phase === 'rendering') {
        const total = job.total ? ` of ${job.total}` : '';
        const secs = (performance.now() - job.t0) / 1000;
        status(`Rendering: frame ${job.rendered}${total} · ${(job.rendered / Math.max(secs, 0.001)).toFixed(1)} frames/s`);
      }
      return;
    }
    if (queue.length === 0) finish(job);
  }, 1000 / job.fps);
}

function finish(job) {
  clearInterval(player);
  player = 0;
  const d = job.done;
  setPhase('done');
  $('progress').max = Math.max(1, d.frames);
  $('progress').value = d.frames;
  status(`Done: ${d.frames} frames (${d.duration.toFixed(2)} s) rendered in ${d.seconds.toFixed(1)} s.`);
  if (d.video) {
    const a = $('download');
    a.href = d.video;
    a.download = 'talking-head.mp4';
    a.hidden = false;
    const video = $('video');
    video.src = d.video;
    video.hidden = false;
    canvas.hidden = true;
  } else if (d.videoError) status(`Done: ${d.frames} frames (${d.videoError}).`);
}

// ------------------------------------------------------------------ wiring

$('photo-input').addEventListener('change', (e) => handlePhoto(e.target.files[0]));
$('aligned').addEventListener('change', () => {
  if (state.photoFile) handlePhoto(state.photoFile);
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const file = e.dataTransfer && e.dataTransfer.files[0];
  if (file) handlePhoto(file);
});
$('audio-input').addEventListener('change', (e) => {
  const file = e.target.files[0];
  e.target.value = ''; // the same file again starts a new render
  if (file) startJob(file);
});
$('record').addEventListener('click', startRecording);
$('stop').addEventListener('click', stopRecording);
setPhase('idle');
loadInfo();
