// Turn scene.glb (or scene.obj + scene.mtl) into a three.js group in three.js world coordinates,
// with one mesh per structure and materials the viewer may change.
import { Box3, Color, FrontSide, Group, Mesh, MeshLambertMaterial, MeshStandardMaterial, type Material, type Object3D } from 'three';
import { renderQuality, type RenderQuality } from './renderQuality';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { DRACOLoader } from 'three/examples/jsm/loaders/DRACOLoader.js';
import { OBJLoader } from 'three/examples/jsm/loaders/OBJLoader.js';
import { MTLLoader } from 'three/examples/jsm/loaders/MTLLoader.js';
import { RAS_TO_THREE } from '../lib/ras';

/** Served by the app itself (vite.plugins.ts), never a CDN. */
export const DRACO_PATH = `${import.meta.env.BASE_URL ?? '/'}draco/`;

export interface LoadedScene {
  root: Group;
  /** structure name -> its meshes */
  meshes: Map<string, Mesh[]>;
  bounds: Box3;
  triangles: number;
}

let draco: DRACOLoader | null = null;
function dracoLoader(): DRACOLoader {
  draco ??= new DRACOLoader().setDecoderPath(DRACO_PATH);
  return draco;
}

export async function parseGlb(buffer: ArrayBuffer): Promise<Object3D> {
  const loader = new GLTFLoader().setDRACOLoader(dracoLoader());
  const gltf = await loader.parseAsync(buffer, '');
  return gltf.scene;
}

export function parseObj(objText: string, mtlText?: string): Object3D {
  const loader = new OBJLoader();
  if (mtlText) {
    const materials = new MTLLoader().parse(mtlText, '');
    materials.preload();
    loader.setMaterials(materials);
  }
  return loader.parse(objText);
}

/** Normalise a name the way three's loaders sanitise node names, for matching against report.json. */
export function nameKey(name: string): string {
  return name.toLowerCase().replace(/[\s.:/[\]]/g, '_');
}

/**
 * Wrap the loaded object (vertex positions in RAS+ mm, as the engine writes them) in a group
 * that maps RAS to three.js, and give each structure's meshes their own standard material.
 */
export function prepareScene(object: Object3D, knownNames: string[] = [], quality: RenderQuality = renderQuality()): LoadedScene {
  const known = new Map(knownNames.map((n) => [nameKey(n), n]));
  const root = new Group();
  root.name = 'oculus-structures';
  root.matrixAutoUpdate = false;
  root.matrix.copy(RAS_TO_THREE);
  root.add(object);
  root.updateMatrixWorld(true);

  const meshes = new Map<string, Mesh[]>();
  let triangles = 0;
  object.traverse((o) => {
    if (!(o as Mesh).isMesh) return;
    const mesh = o as Mesh;
    const name = structureNameOf(mesh, known);
    mesh.userData.structure = name;
    mesh.material = materialFrom(mesh.material, quality);
    const geom = mesh.geometry;
    if (!geom.attributes.normal) geom.computeVertexNormals();
    triangles += (geom.index ? geom.index.count : geom.attributes.position.count) / 3;
    meshes.set(name, [...(meshes.get(name) ?? []), mesh]);
  });
  const bounds = new Box3().setFromObject(root);
  return { root, meshes, bounds, triangles };
}

function structureNameOf(mesh: Object3D, known: Map<string, string>): string {
  for (let o: Object3D | null = mesh; o; o = o.parent) {
    const hit = o.name && known.get(nameKey(o.name));
    if (hit) return hit;
  }
  // Without report.json: the mesh's own name (OBJ group / glTF node), else its parent's.
  return mesh.name || mesh.parent?.name || 'structure';
}

function materialFrom(m: Material | Material[], quality: RenderQuality): MeshStandardMaterial | MeshLambertMaterial {
  const src = (Array.isArray(m) ? m[0] : m) as Material & { color?: Color };
  const color = src?.color ? src.color.clone() : new Color(0xb0b0b0);
  // the engine's meshes are closed and wound outward: their back faces never show, and culling
  // them halves what a frame draws (3D Slicer's default too); while clipped, Scene3D draws both
  const side = FrontSide;
  return quality.shading === 'lambert' ? new MeshLambertMaterial({ color, side }) : new MeshStandardMaterial({ color, roughness: 0.55, metalness: 0.0, side });
}
