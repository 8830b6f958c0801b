// Writes the MobileNetV2 model that the npm package nsfwjs (third_party/nsfwjs, pinned) bundles as
// JavaScript (model.min.js: the model.json object; group1-shard1of1.min.js: the weight shard in
// base64) out as a plain TF.js model directory: OUTDIR/model.json and OUTDIR/group1-shard1of1.
// Usage: node extract_nsfwjs.mjs SOURCE_DIR OUTDIR [MODEL=mobilenet_v2]
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const [src, out, name = "mobilenet_v2"] = process.argv.slice(2);
if (!src || !out) {
  console.error("usage: node extract_nsfwjs.mjs SOURCE_DIR OUTDIR [MODEL]");
  process.exit(2);
}
const dir = path.join(src, "third_party/nsfwjs/node_modules/nsfwjs/dist/cjs/models", name);
if (!fs.existsSync(dir)) {
  console.error(`[extract_nsfwjs] ${dir} is missing; run scripts/install-deps (npm install in third_party/nsfwjs)`);
  process.exit(1);
}
const require = createRequire(import.meta.url);
const model = require(path.join(dir, "model.min.js"));
fs.mkdirSync(out, { recursive: true });
for (const group of model.weightsManifest) {
  for (const p of group.paths) {
    const b64 = require(path.join(dir, `${p}.min.js`));
    fs.writeFileSync(path.join(out, p), Buffer.from(b64, "base64"));
  }
}
fs.writeFileSync(path.join(out, "model.json"),
  JSON.stringify({ modelTopology: model.modelTopology, weightsManifest: model.weightsManifest }));
