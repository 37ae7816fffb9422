// A true outline around the selected structure: an inverted hull (its back faces pushed out a
// few screen pixels along their normals, drawn in one flat colour) so the silhouette gets a band
// that no lighting or colour can hide. Only the band near the silhouette is drawn, so a
// see-through structure is outlined, not filled.
import { BackSide, Color, Mesh, ShaderMaterial, Vector2, type Plane } from 'three';
import type { LoadedScene } from './loadScene';

export const OUTLINE_COLOR = new Color('#f0f9ff');
export const OUTLINE_PX = 3;

const vertexShader = /* glsl */ `
#include <common>
#include <clipping_planes_pars_vertex>
uniform vec2 resolution;
uniform float thickness;
varying float vFacing;
void main() {
  #include <begin_vertex>
  #include <project_vertex>
  #include <clipping_planes_vertex>
  vec3 n = normalize(normalMatrix * normal);
  vFacing = dot(n, normalize(-mvPosition.xyz));
  vec2 dir = (projectionMatrix * vec4(n, 0.0)).xy;
  float len = length(dir);
  if (len > 1e-6) gl_Position.xy += dir / len * thickness * 2.0 / resolution * gl_Position.w;
}`;

const fragmentShader = /* glsl */ `
#include <clipping_planes_pars_fragment>
uniform vec3 color;
varying float vFacing;
void main() {
  #include <clipping_planes_fragment>
  if (vFacing < -0.5) discard; // the hull's far side, away from the silhouette
  gl_FragColor = vec4(color, 1.0);
  #include <colorspace_fragment>
}`;

export function outlineMaterial(): ShaderMaterial {
  return new ShaderMaterial({
    uniforms: { color: { value: OUTLINE_COLOR.clone() }, thickness: { value: OUTLINE_PX }, resolution: { value: new Vector2(1, 1) } },
    vertexShader,
    fragmentShader,
    side: BackSide,
    clipping: true,
  });
}

/** The outline meshes of one scene, made on first use (one shared material). */
export class Outlines {
  private readonly material = outlineMaterial();
  private readonly hulls = new Map<Mesh, Mesh>();

  constructor(private readonly scene: LoadedScene) {}

  /** Outline `selected` (null: nothing) in a canvas of `width` x `height` CSS pixels. */
  show(selected: string | null, clipPlane: Plane | null, width: number, height: number): void {
    this.material.uniforms.resolution.value.set(Math.max(1, width), Math.max(1, height));
    this.material.clippingPlanes = clipPlane ? [clipPlane] : null;
    for (const hull of this.hulls.values()) hull.visible = false;
    for (const mesh of (selected && this.scene.meshes.get(selected)) || []) this.hullOf(mesh).visible = mesh.visible;
  }

  dispose(): void {
    for (const hull of this.hulls.values()) hull.removeFromParent();
    this.hulls.clear();
    this.material.dispose();
  }

  private hullOf(mesh: Mesh): Mesh {
    let hull = this.hulls.get(mesh);
    if (!hull) {
      hull = new Mesh(mesh.geometry, this.material);
      hull.name = 'outline';
      hull.userData.outline = true;
      hull.raycast = () => {}; // never picked: a click goes to the structure itself
      hull.renderOrder = mesh.renderOrder;
      mesh.add(hull);
      this.hulls.set(mesh, hull);
    }
    return hull;
  }
}
