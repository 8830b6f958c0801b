// Validates a file with c2pa-rs (the C2PA reference implementation, as wasm) and prints one
// JSON line: {state, codes:{success,informational,failure}, activeLabel, error}.
// usage: node validate.mjs FILE [MIME]   (MIME from the extension when absent;
//        a .c2pa sidecar is read as application/c2pa)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { initSync, WasmReader } from '@contentauth/c2pa-wasm';

const require = createRequire(import.meta.url);
const wasmPath = require.resolve('@contentauth/c2pa-wasm/c2pa.wasm');
initSync({ module: readFileSync(wasmPath) });

const kMime = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', mp4: 'video/mp4', m4v: 'video/mp4',
  webm: 'video/webm', gif: 'image/gif', c2pa: 'application/c2pa',
};
const file = process.argv[2];
const mime = process.argv[3] || kMime[file.split('.').pop().toLowerCase()];
const out = { file, mime };
try {
  const reader = await WasmReader.fromBytes(mime, new Uint8Array(readFileSync(file)));
  const store = JSON.parse(reader.json());
  out.activeLabel = reader.activeLabel() ?? null;
  out.state = store.validation_state ?? null;
  const r = store.validation_results?.activeManifest ?? {};
  out.codes = {
    success: (r.success ?? []).map((s) => s.code),
    informational: (r.informational ?? []).map((s) => s.code),
    failure: (r.failure ?? []).map((s) => s.code),
  };
  out.status = (store.validation_status ?? []).map((s) => s.code);
} catch (e) {
  out.error = String(e?.message ?? e);
}
console.log(JSON.stringify(out));
