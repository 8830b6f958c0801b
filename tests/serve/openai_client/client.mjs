// Drives `kinema serve` with the official openai client (create, poll, download, list, remix,
// edit, extend, edit of an uploaded video, a character, delete) as code written for the Sora API would: only baseURL and apiKey differ. Run
// by tests/serve/test_openai_client.cpp, which sets KINEMA_BASE_URL, KINEMA_API_KEY,
// KINEMA_REF_IMAGE and KINEMA_OUT_DIR. Prints one JSON line.
import fs from 'node:fs';
import path from 'node:path';
import OpenAI, { NotFoundError } from 'openai';

const client = new OpenAI({ baseURL: process.env.KINEMA_BASE_URL, apiKey: process.env.KINEMA_API_KEY });
const started = Date.now();

function check(cond, what) {
  if (!cond) {
    console.error(`FAIL: ${what}`);
    process.exit(1);
  }
}

async function poll(id) {
  for (;;) {
    const v = await client.videos.retrieve(id);
    if (v.status === 'completed' || v.status === 'failed') return v;
    check(Date.now() - started < 300000, `video ${id} still ${v.status} after 300 s`);  // a busy two-core machine
    await new Promise((r) => setTimeout(r, 50));
  }
}

let video = await client.videos.create({
  prompt: 'a red circle moves right',
  model: 'sora-2',
  seconds: '4',
  size: '1280x720',
  input_reference: fs.createReadStream(process.env.KINEMA_REF_IMAGE),
});
check(video.object === 'video' && video.id.startsWith('video_'), `create: ${JSON.stringify(video)}`);
check(['queued', 'in_progress'].includes(video.status), `create status ${video.status}`);
video = await poll(video.id);
check(video.status === 'completed' && video.progress === 100, `poll: ${JSON.stringify(video)}`);

const mp4 = Buffer.from(await (await client.videos.downloadContent(video.id)).arrayBuffer());
check(mp4.subarray(4, 8).toString() === 'ftyp', 'the video is not an MP4');
fs.writeFileSync(path.join(process.env.KINEMA_OUT_DIR, 'client_video.mp4'), mp4);
const thumb = Buffer.from(
  await (await client.videos.downloadContent(video.id, { variant: 'thumbnail' })).arrayBuffer(),
);
check(thumb.subarray(1, 4).toString() === 'PNG', 'the thumbnail is not a PNG');

const listed = [];
for await (const v of client.videos.list({ limit: 1 })) listed.push(v.id);  // pages via `after`
check(listed.includes(video.id), `list: ${listed}`);

let remix = await client.videos.remix(video.id, { prompt: 'a blue circle moves right' });
check(remix.remixed_from_video_id === video.id, `remix: ${JSON.stringify(remix)}`);
remix = await poll(remix.id);
check(remix.status === 'completed', `remix poll: ${JSON.stringify(remix)}`);
const listedAfter = [];
for await (const v of client.videos.list({ limit: 1, order: 'asc' })) listedAfter.push(v.id);
check(listedAfter.length === 2 && listedAfter[0] === video.id, `list asc: ${listedAfter}`);


let edited = await client.videos.edit({ prompt: 'the circle is green', video: { id: video.id } });
edited = await poll(edited.id);
check(edited.status === 'completed' && edited.remixed_from_video_id === video.id, `edit: ${JSON.stringify(edited)}`);

let extended = await client.videos.extend({ prompt: 'then it turns blue', seconds: '4', video: { id: video.id } });
extended = await poll(extended.id);
check(extended.status === 'completed' && extended.seconds === '8.08', `extend: ${JSON.stringify(extended)}`);
const extendedMp4 = Buffer.from(await (await client.videos.downloadContent(extended.id)).arrayBuffer());
fs.writeFileSync(path.join(process.env.KINEMA_OUT_DIR, 'client_extended.mp4'), extendedMp4);

// expires_at: completed_at + the server's retention (default a week).
check(video.expires_at === video.completed_at + 168 * 3600, `expires_at: ${JSON.stringify(video)}`);

// An uploaded video (an Uploadable) as the source of an edit.
const clipPath = path.join(process.env.KINEMA_OUT_DIR, 'client_video.mp4');
let editedUpload = await client.videos.edit({ prompt: 'the circle is green', video: fs.createReadStream(clipPath) });
editedUpload = await poll(editedUpload.id);
check(editedUpload.status === 'completed' && editedUpload.remixed_from_video_id === null,
  `edit of an upload: ${JSON.stringify(editedUpload)}`);

// A character from a clip, fetched back, and used by @NAME in a prompt.
const character = await client.videos.createCharacter({ name: 'Circle', video: fs.createReadStream(clipPath) });
check(character.id.startsWith('char_') && character.name === 'Circle', `character: ${JSON.stringify(character)}`);
const fetched = await client.videos.getCharacter(character.id);
check(fetched.id === character.id && fetched.created_at === character.created_at, `getCharacter: ${JSON.stringify(fetched)}`);
let starring = await client.videos.create({ prompt: '@Circle rolls left', seconds: '1' });
starring = await poll(starring.id);
check(starring.status === 'completed' && starring.kinema.requested.character === character.id,
  `@Circle: ${JSON.stringify(starring)}`);

const deleted = await client.videos.delete(remix.id);
check(deleted.deleted === true && deleted.object === 'video.deleted' && deleted.id === remix.id, 'delete');
let notFound = false;
try {
  await client.videos.retrieve(remix.id);
} catch (e) {
  notFound = e instanceof NotFoundError;
}
check(notFound, 'a deleted video is not a NotFoundError');

console.log(JSON.stringify({
  ok: true, id: video.id, size: video.size, seconds: video.seconds, remix: remix.id, edit: edited.id,
  extended: extended.id, edited_upload: editedUpload.id, character: character.id,
  extended_seconds: extended.seconds,
  mp4_bytes: mp4.length, thumbnail_bytes: thumb.length, listed: listed.length, ms: Date.now() - started,
}));
