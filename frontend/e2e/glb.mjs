// A minimal glTF 2.0 binary writer for test and benchmark fixtures: one node + mesh per
// structure (UV sphere), positions in RAS+ mm like the engine's scene.glb, linear colours.

function sphere(center, radii, seg) {
  const pos = [];
  const nrm = [];
  const idx = [];
  for (let i = 0; i <= seg; i++) {
    const th = (i / seg) * Math.PI;
    for (let j = 0; j <= seg; j++) {
      const ph = (j / seg) * 2 * Math.PI;
      const n = [Math.sin(th) * Math.cos(ph), Math.sin(th) * Math.sin(ph), Math.cos(th)];
      nrm.push(...n);
      pos.push(center[0] + radii[0] * n[0], center[1] + radii[1] * n[1], center[2] + radii[2] * n[2]);
    }
  }
  for (let i = 0; i < seg; i++)
    for (let j = 0; j < seg; j++) {
      const a = i * (seg + 1) + j;
      const b = a + seg + 1;
      idx.push(a, b, a + 1, b, b + 1, a + 1);
    }
  return { pos: new Float32Array(pos), nrm: new Float32Array(nrm), idx: new Uint32Array(idx) };
}

const srgbToLinear = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);

/** structures: [{name, center:[R,A,S], radii:[r,a,s], color:[0-255 x3]}] */
export function makeGlb(structures, seg = 24) {
  const json = { asset: { version: '2.0', generator: 'oculus-e2e' }, scene: 0, scenes: [{ nodes: [] }], nodes: [], meshes: [], materials: [], accessors: [], bufferViews: [], buffers: [] };
  const chunks = [];
  let offset = 0;
  const view = (arr, target) => {
    const bytes = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
    json.bufferViews.push({ buffer: 0, byteOffset: offset, byteLength: bytes.length, target });
    chunks.push(bytes);
    offset += bytes.length;
    const pad = (4 - (offset % 4)) % 4;
    if (pad) (chunks.push(Buffer.alloc(pad)), (offset += pad));
    return json.bufferViews.length - 1;
  };
  structures.forEach((s, k) => {
    const g = sphere(s.center, s.radii, seg);
    const min = [Infinity, Infinity, Infinity];
    const max = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < g.pos.length; i += 3) for (let c = 0; c < 3; c++) (min[c] = Math.min(min[c], g.pos[i + c])), (max[c] = Math.max(max[c], g.pos[i + c]));
    const pv = view(g.pos, 34962);
    const nv = view(g.nrm, 34962);
    const iv = view(g.idx, 34963);
    const a = json.accessors.length;
    json.accessors.push(
      { bufferView: pv, componentType: 5126, count: g.pos.length / 3, type: 'VEC3', min, max },
      { bufferView: nv, componentType: 5126, count: g.nrm.length / 3, type: 'VEC3' },
      { bufferView: iv, componentType: 5125, count: g.idx.length, type: 'SCALAR' },
    );
    json.materials.push({ name: s.name, pbrMetallicRoughness: { baseColorFactor: [...s.color.map((c) => srgbToLinear(c / 255)), 1], metallicFactor: 0, roughnessFactor: 0.6 } });
    json.meshes.push({ name: s.name, primitives: [{ attributes: { POSITION: a, NORMAL: a + 1 }, indices: a + 2, material: k }] });
    json.nodes.push({ name: s.name, mesh: k });
    json.scenes[0].nodes.push(k);
  });
  const bin = Buffer.concat(chunks);
  json.buffers.push({ byteLength: bin.length });
  let jsonBuf = Buffer.from(JSON.stringify(json));
  jsonBuf = Buffer.concat([jsonBuf, Buffer.alloc((4 - (jsonBuf.length % 4)) % 4, 0x20)]);
  const header = Buffer.alloc(12);
  header.writeUInt32LE(0x46546c67, 0);
  header.writeUInt32LE(2, 4);
  header.writeUInt32LE(12 + 8 + jsonBuf.length + 8 + bin.length, 8);
  const jh = Buffer.alloc(8);
  jh.writeUInt32LE(jsonBuf.length, 0);
  jh.writeUInt32LE(0x4e4f534a, 4);
  const bh = Buffer.alloc(8);
  bh.writeUInt32LE(bin.length, 0);
  bh.writeUInt32LE(0x004e4942, 4);
  return Buffer.concat([header, jh, jsonBuf, bh, bin]);
}

/** A body-like layout of n structures (liver big and anterior-right, the rest in a grid). */
export function bodyLikeStructures(n) {
  const out = [{ name: 'liver', label: 5, center: [60, 30, 40], radii: [80, 60, 50], color: [221, 130, 101], system: 'organs' }];
  for (let i = 1; i < n; i++) {
    const col = i % 8;
    const row = Math.floor(i / 8);
    out.push({ name: `structure_${i}`, label: 10 + i, center: [-120 + col * 34, 40, -200 + row * 30], radii: [12, 12, 12], color: [(i * 53) % 255, (i * 97) % 255, (i * 151) % 255], system: i % 3 ? 'bones' : 'vessels' });
  }
  return out;
}

/** Two lungs side by side, the patient's left one at negative R (RAS+), above the rest. */
export function lungs() {
  return [
    { name: 'lung_left', label: 3, center: [-90, 0, 170], radii: [40, 50, 45], color: [180, 200, 240], system: 'lungs_airways' },
    { name: 'lung_right', label: 4, center: [90, 0, 170], radii: [40, 50, 45], color: [240, 200, 120], system: 'lungs_airways' },
  ];
}

export function reportFor(structures) {
  return {
    coordinateSystem: 'RAS',
    engine: { name: 'fixture', version: 'test', degraded: false, note: null },
    structures: structures.map((s) => ({ label: s.label, name: s.name, system: s.system, volumeMl: (4 / 3) * Math.PI * s.radii[0] * s.radii[1] * s.radii[2] / 1000, meanIntensity: 40 + s.label, stdIntensity: 12.5, color: s.color, centroidMm: s.center, bbox: null })),
  };
}
