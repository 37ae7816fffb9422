import { describe, expect, it } from 'vitest';
import { BoxGeometry, DoubleSide, FrontSide, Group, Mesh, MeshBasicMaterial, Plane, Vector3, type MeshLambertMaterial } from 'three';
import { parseObj, prepareScene } from './loadScene';
import { showStructures } from './Scene3D';

const OBJ = `mtllib scene.mtl
o liver
v 0 0 0
v 10 0 0
v 0 20 0
v 0 0 30
usemtl liver
f 1 2 3
f 1 3 4
o spleen
v 50 0 0
v 60 0 0
v 50 10 0
usemtl spleen
f 5 6 7
`;
const MTL = `newmtl liver
Kd 0.8 0.3 0.2
newmtl spleen
Kd 0.2 0.4 0.8
`;

describe('prepareScene', () => {
  it('maps each OBJ group to its structure with its MTL colour', () => {
    const s = prepareScene(parseObj(OBJ, MTL), ['liver', 'spleen']);
    expect([...s.meshes.keys()].sort()).toEqual(['liver', 'spleen']);
    expect(s.triangles).toBe(3);
    const liver = s.meshes.get('liver')![0].material as MeshBasicMaterial;
    expect(liver.color.getHexString()).not.toBe(s.meshes.get('spleen')![0].material && (s.meshes.get('spleen')![0].material as MeshBasicMaterial).color.getHexString());
  });

  it('maps RAS to three.js: superior is +y, anterior +z, patient right -x', () => {
    // a box spanning R 0..10, A 0..20, S 0..30 (RAS mm)
    const g = new BoxGeometry(10, 20, 30).translate(5, 10, 15);
    const root = new Group();
    root.add(Object.assign(new Mesh(g, new MeshBasicMaterial()), { name: 'box' }));
    const s = prepareScene(root);
    expect(s.bounds.min.toArray().map((v) => Math.round(v) + 0)).toEqual([-10, 0, 0]);
    expect(s.bounds.max.toArray().map((v) => Math.round(v) + 0)).toEqual([0, 30, 20]);
  });

  it('finds the structure name on a parent node (multi-primitive glTF meshes)', () => {
    const node = new Group();
    node.name = 'kidney_left';
    node.add(new Mesh(new BoxGeometry(), new MeshBasicMaterial()), new Mesh(new BoxGeometry(), new MeshBasicMaterial()));
    const root = new Group();
    root.add(node);
    const s = prepareScene(root, ['kidney_left']);
    expect(s.meshes.get('kidney_left')).toHaveLength(2);
  });
});

describe('faces drawn', () => {
  const look = { hidden: {}, opacity: { liver: 0.25 }, selected: null, dimOthers: false, clipPlane: null };

  it('culls the back faces of the closed meshes, transparent ones too, and draws both sides while clipped', () => {
    const s = prepareScene(parseObj(OBJ, MTL), ['liver', 'spleen']);
    const side = (name: string) => (s.meshes.get(name)![0].material as MeshLambertMaterial).side;
    expect([side('liver'), side('spleen')]).toEqual([FrontSide, FrontSide]);
    showStructures(s, look);
    expect([side('liver'), side('spleen')]).toEqual([FrontSide, FrontSide]);
    expect((s.meshes.get('liver')![0].material as MeshLambertMaterial).transparent).toBe(true);
    showStructures(s, { ...look, clipPlane: new Plane(new Vector3(0, 1, 0), 0) });
    expect([side('liver'), side('spleen')]).toEqual([DoubleSide, DoubleSide]);
    showStructures(s, look);
    expect([side('liver'), side('spleen')]).toEqual([FrontSide, FrontSide]);
  });
});
