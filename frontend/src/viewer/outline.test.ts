import { BoxGeometry, Group, Mesh, MeshStandardMaterial, Plane, Raycaster, ShaderMaterial, Vector3 } from 'three';
import { describe, expect, it } from 'vitest';
import { prepareScene } from './loadScene';
import { Outlines, OUTLINE_PX } from './outline';

function sceneOf(...names: string[]) {
  const group = new Group();
  for (const [i, name] of names.entries()) {
    const m = new Mesh(new BoxGeometry(10, 10, 10), new MeshStandardMaterial());
    m.name = name;
    m.position.x = i * 20;
    group.add(m);
  }
  return prepareScene(group, names);
}

describe('the selection outline', () => {
  it('outlines the selected structure only, and follows the selection', () => {
    const scene = sceneOf('liver', 'spleen');
    const outlines = new Outlines(scene);
    outlines.show('liver', null, 800, 600);
    const [liver] = scene.meshes.get('liver')!;
    const hull = liver.children.find((c) => c.userData.outline) as Mesh;
    expect(hull.visible).toBe(true);
    expect(hull.geometry).toBe(liver.geometry); // shares the structure's geometry
    expect((hull.material as ShaderMaterial).uniforms.thickness.value).toBe(OUTLINE_PX);
    expect(scene.meshes.get('spleen')![0].children).toHaveLength(0);
    outlines.show('spleen', null, 800, 600);
    expect(hull.visible).toBe(false);
    outlines.show(null, null, 800, 600);
    expect(scene.meshes.get('spleen')![0].children[0].visible).toBe(false);
  });

  it('hides with its structure, clips with it and is never picked', () => {
    const scene = sceneOf('liver');
    const [liver] = scene.meshes.get('liver')!;
    liver.visible = false;
    const outlines = new Outlines(scene);
    const plane = new Plane(new Vector3(0, 1, 0), 0);
    outlines.show('liver', plane, 800, 600);
    const hull = liver.children[0] as Mesh;
    expect(hull.visible).toBe(false);
    expect((hull.material as ShaderMaterial).clippingPlanes).toEqual([plane]);
    liver.visible = true;
    outlines.show('liver', null, 800, 600);
    const ray = new Raycaster(new Vector3(0, 0, 100), new Vector3(0, 0, -1));
    const hits = ray.intersectObject(scene.root, true);
    expect(hits.length).toBeGreaterThan(0);
    expect(hits.every((h) => !h.object.userData.outline)).toBe(true);
    outlines.dispose();
    expect(liver.children).toHaveLength(0);
  });
});
