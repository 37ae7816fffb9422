import { describe, expect, it } from 'vitest';
import { Mesh, MeshLambertMaterial, MeshStandardMaterial, BoxGeometry, Group, MeshBasicMaterial, Color } from 'three';
import { prepareScene } from './loadScene';
import { FULL_QUALITY, SOFTWARE_QUALITY, isSoftwareRenderer } from './renderQuality';

describe('render quality', () => {
  it('recognises software rasterisers by their renderer string', () => {
    for (const name of [
      'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)',
      'llvmpipe (LLVM 15.0.6, 256 bits)',
      'Mesa softpipe',
      'ANGLE (Microsoft, Microsoft Basic Render Driver Direct3D11 vs_5_0 ps_5_0)',
    ])
      expect(isSoftwareRenderer(name), name).toBe(true);
    for (const name of ['ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0)', 'Apple M2', 'Mali-G78', 'Adreno (TM) 730', ''])
      expect(isSoftwareRenderer(name), name).toBe(false);
  });

  it('draws the same structures with cheaper shading on software WebGL, keeping colour and two sides', () => {
    const scene = () => {
      const group = new Group();
      const mesh = new Mesh(new BoxGeometry(10, 10, 10), new MeshBasicMaterial({ color: new Color('#ff0000') }));
      mesh.name = 'liver';
      group.add(mesh);
      return group;
    };
    const full = prepareScene(scene(), ['liver'], FULL_QUALITY).meshes.get('liver')![0].material as MeshStandardMaterial;
    const light = prepareScene(scene(), ['liver'], SOFTWARE_QUALITY).meshes.get('liver')![0].material as MeshLambertMaterial;
    expect(full).toBeInstanceOf(MeshStandardMaterial);
    expect(light).toBeInstanceOf(MeshLambertMaterial);
    expect(light.color.getHexString()).toBe(full.color.getHexString());
    expect(light.side).toBe(full.side);
    expect(light.emissive).toBeDefined(); // the selection glow works on both
  });
});
