// Test-data generator for the frame classifier's parity test (issue 9): runs nsfwjs (MobileNetV2)
// on @tensorflow/tfjs's CPU backend (pure JS) over test images and writes, into OUTDIR,
//   NN.ppm         the exact RGB pixels both sides classify (decoded once by ffmpeg), and
//   reference.tsv  name, source, then P(Drawing, Hentai, Neutral, Porn, Sexy) as nsfwjs gives them.
// Images: ffmpeg test sources (at 224x224, so without resizing, and at other sizes) and PNG/JPEG
// files from Debian packages under /usr/share (any size, so nsfwjs's bilinear resize is exercised).
// Usage: node reference.mjs OUTDIR [COUNT=24]
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, "../..");
const require = createRequire(path.join(root, "third_party/nsfwjs/package.json"));
const tf = require("@tensorflow/tfjs");
const nsfwjs = require("nsfwjs");

const [out, countArg] = process.argv.slice(2);
if (!out) { console.error("usage: node reference.mjs OUTDIR [COUNT]"); process.exit(2); }
const count = Number(countArg ?? 24);
fs.mkdirSync(out, { recursive: true });

function walk(dir, acc) {
  let entries = [];
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return acc; }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, acc);
    else if (e.isFile() && /\.(png|jpe?g)$/i.test(e.name) && fs.statSync(p).size > 8192) acc.push(p);
  }
  return acc;
}

const sources = [
  ["lavfi:testsrc2=size=224x224", "lavfi"], ["lavfi:smptehdbars=size=224x224", "lavfi"],
  ["lavfi:mandelbrot=size=224x224", "lavfi"], ["lavfi:rgbtestsrc=size=320x240", "lavfi"],
  ["lavfi:testsrc=size=160x120", "lavfi"], ["lavfi:color=c=0xd0a080:size=224x224", "lavfi"],
];
const files = walk("/usr/share", []).sort();
const want = Math.max(0, count - sources.length);
const step = Math.max(1, Math.floor(files.length / Math.max(1, want)));
for (let i = 0; i < files.length && sources.length < count; i += step) sources.push([files[i], "file"]);

function decode([src, kind]) {
  const input = kind === "lavfi" ? ["-f", "lavfi", "-i", src.slice("lavfi:".length)] : ["-i", src];
  return execFileSync("ffmpeg", ["-v", "error", ...input, "-frames:v", "1", "-f", "image2pipe",
    "-vcodec", "ppm", "-pix_fmt", "rgb24", "-"], { maxBuffer: 1 << 28 });
}
function parsePpm(buf) {
  // P6\n<w> <h>\n255\n<rgb>
  const header = buf.subarray(0, 64).toString("latin1").match(/^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/);
  if (!header) throw new Error("not a binary PPM");
  const [, w, h] = header.map(Number);
  return { w, h, rgb: buf.subarray(header[0].length, header[0].length + w * h * 3) };
}

await tf.setBackend("cpu");
const origInfo = console.info; console.info = () => {};
const model = await nsfwjs.load("MobileNetV2");
console.info = origInfo;
const lines = [];
let n = 0;
for (const s of sources) {
  let buf;
  try { buf = decode(s); } catch (e) { console.error(`skip ${s[0]}: ${e.message.split("\n")[0]}`); continue; }
  const { w, h, rgb } = parsePpm(buf);
  const name = String(n++).padStart(2, "0");
  fs.writeFileSync(path.join(out, `${name}.ppm`), buf);
  const img = tf.tensor3d(Int32Array.from(rgb), [h, w, 3], "int32");
  const logits = model.infer(img);
  const p = Array.from(await logits.data());
  img.dispose(); logits.dispose();
  lines.push([name, s[0], ...p.map((v) => v.toPrecision(9))].join("\t"));
}
fs.writeFileSync(path.join(out, "reference.tsv"), lines.join("\n") + "\n");
console.log(`reference.mjs: ${lines.length} images, nsfwjs ${JSON.parse(fs.readFileSync(path.join(root, "third_party/nsfwjs/node_modules/nsfwjs/package.json"))).version}, tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}`);
