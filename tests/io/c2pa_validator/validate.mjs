// Independent C2PA validation of kinema outputs with c2pa-rs (the reference implementation,
// built to wasm as @contentauth/c2pa-wasm, pinned in package-lock.json).
//
// usage: node validate.mjs FILE...
// Prints one JSON line per file:
//   {file, state: "valid" | "invalid" | "none", untrusted, failures: [codes], success: [codes],
//    second?: {state, failures}}
// `second` is the opinion of @trustnxt/c2pa-ts (a separate TypeScript implementation; it
// reads PNG and JPEG here — its BMFF reader takes HEIF brands only — and does no chain
// validation, so it reports a local signer as trusted).
// where `failures` leaves out signingCredential.untrusted (expected for a local signer with no
// trust list) and reports it as `untrusted: true` instead.
//
// Sidecars (WebM, GIF: C2PA cannot embed there): c2pa-rs reads and validates `<file>.c2pa`
// (claim signature, assertion hashes), but the wasm API cannot be handed the asset the sidecar
// binds to, so it hashes the sidecar itself and reports assertion.dataHash.mismatch. For
// sidecars this script drops that code and checks the binding itself: SHA-256 of the media
// file against the c2pa.hash.data hash as decoded by c2pa-rs.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { initSync, WasmReader } from '@contentauth/c2pa-wasm';
import { JPEG, PNG } from '@trustnxt/c2pa-ts/asset';
import { SuperBox } from '@trustnxt/c2pa-ts/jumbf';
import { ManifestStore, ValidationResult } from '@trustnxt/c2pa-ts/manifest';

const require = createRequire(import.meta.url);
initSync({ module: readFileSync(require.resolve('@contentauth/c2pa-wasm/c2pa.wasm')) });

const kEmbedded = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', mp4: 'video/mp4', m4v: 'video/mp4', mov: 'video/mp4' };

function b64field(s) {
  const m = /^b64'(.*)'$/.exec(s ?? '');
  return m ? Buffer.from(m[1], 'base64') : null;
}

async function second_opinion(file) {
  const buf = readFileSync(file);
  const asset = JPEG.canRead(buf) ? new JPEG(buf) : PNG.canRead(buf) ? new PNG(buf) : null;
  if (!asset) return undefined;
  const jumbf = asset.getManifestJUMBF();
  if (!jumbf) return { state: 'none', failures: [] };
  let result;
  try {
    result = await ManifestStore.read(SuperBox.fromBuffer(jumbf)).validate(asset);
  } catch (e) {
    result = ValidationResult.fromError(e);
  }
  const failures = result.statusEntries.filter((s) => !s.success).map((s) => s.code);
  return { state: result.isValid ? 'valid' : 'invalid', failures };
}

async function validate(file) {
  const ext = file.split('.').pop().toLowerCase();
  const sidecar = !(ext in kEmbedded);
  const out = { file, sidecar, state: 'none', untrusted: false, failures: [], success: [] };
  if (!sidecar) out.second = await second_opinion(file);
  const source = sidecar ? `${file}.c2pa` : file;
  if (sidecar && !existsSync(source)) return out;
  let reader;
  try {
    reader = await WasmReader.fromBytes(sidecar ? 'application/c2pa' : kEmbedded[ext],
                                        new Uint8Array(readFileSync(source)));
  } catch (e) {
    const msg = String(e?.message ?? e);
    if (/JumbfNotFound|ProvenanceMissing|NotFound/.test(msg)) return out;
    out.state = 'invalid';
    out.failures.push(`error: ${msg}`);
    return out;
  }
  const store = JSON.parse(reader.json());
  const results = store.validation_results?.activeManifest ?? {};
  out.success = (results.success ?? []).map((s) => s.code);
  for (const f of results.failure ?? []) {
    if (f.code === 'signingCredential.untrusted') out.untrusted = true;
    else if (!(sidecar && f.code === 'assertion.dataHash.mismatch')) out.failures.push(f.code);
  }
  if (sidecar) {
    const cr = JSON.parse(reader.crJson());
    const active = cr.manifests?.find((m) => m.label === reader.activeLabel()) ?? cr.manifests?.[0];
    const binding = active?.assertions?.['c2pa.hash.data'];
    const want = b64field(binding?.hash);
    const got = createHash('sha256').update(readFileSync(file)).digest();
    if (!want || (binding.exclusions ?? []).length) out.failures.push('assertion.dataHash.malformed');
    else if (!want.equals(got)) out.failures.push('assertion.dataHash.mismatch');
    else out.success.push('assertion.dataHash.match');
  }
  out.state = out.failures.length ? 'invalid' : 'valid';
  return out;
}

for (const file of process.argv.slice(2)) console.log(JSON.stringify(await validate(file)));
