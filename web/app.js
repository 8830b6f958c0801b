// kinema's page: a prompt box, live progress over Server-Sent Events, and a gallery of the
// user's videos from the same /v1 API the openai client uses. Plain JS, no build step.
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
const keyInput = $('#key');
keyInput.value = localStorage.getItem('kinema-key') || '';
keyInput.addEventListener('change', () => { localStorage.setItem('kinema-key', keyInput.value.trim()); refresh(); });

function headers(extra = {}) {
  const key = keyInput.value.trim();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: headers(options.headers) });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try { message = (await res.json()).error.message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return res;
}

function say(text, isError = false) {
  const m = $('#message');
  m.textContent = text;
  m.className = isError ? 'error' : '';
}

const cards = new Map();  // id -> card element

function card(video) {
  let el = cards.get(video.id);
  if (!el) {
    el = $('#card').content.firstElementChild.cloneNode(true);
    el.dataset.id = video.id;
    $('.remix', el).addEventListener('click', () => remix(video.id));
    $('.extend', el).addEventListener('click', () => extend(video.id));
    $('.delete', el).addEventListener('click', () => remove(video.id));
    cards.set(video.id, el);
    $('#gallery').prepend(el);
  }
  return el;
}

function show(video) {
  const el = card(video);
  const before = el.dataset.status;
  el.dataset.status = video.status;
  el.className = `card ${video.status}`;
  $('progress', el).value = video.progress;
  $('.prompt', el).textContent = video.prompt;
  const k = video.kinema || {};
  let meta = `${video.size}, ${video.seconds} s` + (k.seed !== undefined ? `, seed ${k.seed}` : '');
  if (video.remixed_from_video_id) meta += `, remix of ${video.remixed_from_video_id}`;
  if (k.requested && k.requested.extend_of) meta += `, extends ${k.requested.extend_of}`;
  // Past expires_at the server no longer keeps the files (--retention-hours): nothing to play.
  const expired = video.status === 'completed' && video.expires_at && video.expires_at * 1000 <= Date.now();
  if (expired) meta += ', expired';
  if (video.error) meta = `${video.error.code}: ${video.error.message}`;
  $('.meta', el).textContent = meta;
  $('.placeholder', el) && ($('.placeholder', el).textContent = expired ? 'expired' : video.status.replace('_', ' ') +
    (video.status === 'in_progress' ? ` ${video.progress}%` : ''));
  $('.remix', el).disabled = video.status !== 'completed' || expired;
  $('.extend', el).disabled = video.status !== 'completed' || expired;
  $('.download', el).hidden = video.status !== 'completed' || expired;
  if (video.status === 'completed' && !expired && before !== 'completed') play(video, el);
  if (video.status === 'queued' || video.status === 'in_progress') watch(video.id);
}

// The video itself: fetched with the key (a <video src> cannot send one) and played from a blob.
async function play(video, el) {
  try {
    const blob = await (await api(`/v1/videos/${video.id}/content`)).blob();
    const url = URL.createObjectURL(blob);
    const v = document.createElement('video');
    v.controls = true; v.loop = true; v.muted = true; v.autoplay = true; v.playsInline = true;
    v.addEventListener('loadedmetadata', () => { el.dataset.duration = String(v.duration); });
    v.src = url;
    $('.media', el).replaceChildren(v);
    const a = $('.download', el);
    a.href = url;
    a.download = `${video.id}.mp4`;
    const c = await (await api(`/v1/videos/${video.id}/credentials`)).json();
    const badge = $('.badge', el);
    badge.className = `badge ${c.status}`;
    badge.textContent = c.status === 'valid'
      ? `✔ Content credentials: ${c.claim_generator}, signed by ${c.signer}`
      : `✘ Content credentials ${c.status}`;
  } catch (e) {
    $('.meta', el).textContent = `cannot load: ${e.message}`;
  }
}

const watching = new Set();

// Server-Sent Events read with fetch (EventSource cannot send the Authorization header).
async function watch(id) {
  if (watching.has(id)) return;
  watching.add(id);
  try {
    const res = await api(`/v1/videos/${id}/events`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = (block.match(/^event: (.*)$/m) || [])[1];
        const data = (block.match(/^data: (.*)$/m) || [])[1];
        if (event === 'deleted') { drop(id); continue; }
        if (data) show(JSON.parse(data));
      }
    }
  } catch (e) {
    say(e.message, true);
  } finally {
    watching.delete(id);
  }
}

function drop(id) {
  const el = cards.get(id);
  if (el) el.remove();
  cards.delete(id);
}

async function refresh() {
  try {
    const models = await (await api('/v1/models')).json();
    $('#model').textContent = `model: ${models.data[0].id}`;
    const list = await (await api('/v1/videos?limit=100&order=asc')).json();
    for (const v of list.data) show(v);
    say('');
  } catch (e) {
    say(e.message, true);
  }
}

$('#create').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = { prompt: $('#prompt').value, size: $('#size').value, seconds: $('#seconds').value };
  if ($('#seed').value !== '') body.seed = Number($('#seed').value);
  if ($('#steps').value !== '') body.steps = Number($('#steps').value);
  $('#submit').disabled = true;
  try {
    const video = await (await api('/v1/videos', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    })).json();
    say(`queued ${video.id} (${video.size}, ${video.seconds} s)`);
    show(video);
  } catch (e) {
    say(e.message, true);
  } finally {
    $('#submit').disabled = false;
  }
});

async function remix(id) {
  const prompt = window.prompt('Remix with a new prompt:');
  if (!prompt) return;
  try {
    show(await (await api(`/v1/videos/${id}/remix`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ prompt }),
    })).json());
  } catch (e) {
    say(e.message, true);
  }
}

async function extend(id) {
  const prompt = window.prompt('Continue it with a prompt:');
  if (!prompt) return;
  const seconds = window.prompt('For how many more seconds?', '4');
  if (!seconds) return;
  try {
    show(await (await api('/v1/videos/extensions', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt, seconds, video: { id } }),
    })).json());
  } catch (e) {
    say(e.message, true);
  }
}

async function remove(id) {
  if (!window.confirm('Delete this video?')) return;
  try {
    await api(`/v1/videos/${id}`, { method: 'DELETE' });
    drop(id);
  } catch (e) {
    say(e.message, true);
  }
}

refresh();
