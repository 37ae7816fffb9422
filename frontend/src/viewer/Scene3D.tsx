// The WebGL view of a segmentation: structures, picking, clipping, reset, screenshot.
import { Canvas, useFrame, useThree, type ThreeEvent } from '@react-three/fiber';
import { OrbitControls } from '@react-three/drei';
import { useEffect, useMemo, useRef } from 'react';
import { Box3, Color, Plane, PMREMGenerator, Vector3, type Mesh, type MeshStandardMaterial, type PerspectiveCamera } from 'three';
import { RoomEnvironment } from 'three/examples/jsm/environments/RoomEnvironment.js';
import type { OrbitControls as OrbitControlsImpl } from 'three-stdlib';
import { CLIP_AXES } from '../lib/ras';
import { useViewer } from '../state/viewer';
import type { LoadedScene } from './loadScene';

export const BACKGROUND = '#0b1120';
const HIGHLIGHT = new Color('#3a3a3a');
const NO_EMISSIVE = new Color(0x000000);

interface Props {
  scene: LoadedScene;
  screenshotName: string;
}

export default function Scene3D({ scene, screenshotName }: Props) {
  return (
    <Canvas
      className="h-full w-full"
      frameloop="demand"
      dpr={[1, 2]}
      gl={{ preserveDrawingBuffer: true, antialias: true }}
      camera={{ fov: 35, near: 1, far: 20000, position: [0, 0, 800] }}
      onCreated={({ gl }) => {
        gl.localClippingEnabled = true;
      }}
      aria-label="3D view of the segmented structures"
      role="img"
      data-testid="scene-canvas"
    >
      <color attach="background" args={[BACKGROUND]} />
      <hemisphereLight args={['#ffffff', '#334155', 0.6]} />
      <directionalLight position={[300, 500, 800]} intensity={1.2} />
      <directionalLight position={[-400, -200, -600]} intensity={0.4} />
      <Environment />
      <Structures scene={scene} />
      <CameraRig scene={scene} />
      <Screenshot name={screenshotName} />
      <BenchHook scene={scene} />
    </Canvas>
  );
}

/** Soft image-based light generated in the page (RoomEnvironment): nothing is fetched. */
function Environment() {
  const { gl, scene, invalidate } = useThree();
  useEffect(() => {
    const pmrem = new PMREMGenerator(gl);
    const env = pmrem.fromScene(new RoomEnvironment(), 0.04).texture;
    scene.environment = env;
    scene.environmentIntensity = 0.35;
    invalidate();
    return () => {
      scene.environment = null;
      env.dispose();
      pmrem.dispose();
    };
  }, [gl, scene, invalidate]);
  return null;
}

function Structures({ scene }: { scene: LoadedScene }) {
  const invalidate = useThree((s) => s.invalidate);
  const hidden = useViewer((s) => s.hidden);
  const opacity = useViewer((s) => s.opacity);
  const selected = useViewer((s) => s.selected);
  const clip = useViewer((s) => s.clip);
  const select = useViewer((s) => s.select);
  const plane = useMemo(() => new Plane(new Vector3(0, -1, 0), 0), []);

  useEffect(() => {
    const b = scene.bounds;
    const normal = CLIP_AXES[clip.axis].clone().multiplyScalar(clip.flip ? -1 : 1);
    // position 0..1 across the bounding box along the plane's axis
    const axisIdx = clip.axis === 'axial' ? 'y' : clip.axis === 'coronal' ? 'z' : 'x';
    const at = b.min[axisIdx] + (b.max[axisIdx] - b.min[axisIdx]) * clip.position;
    const point = new Vector3().setComponent(['x', 'y', 'z'].indexOf(axisIdx), at);
    plane.setFromNormalAndCoplanarPoint(normal, point);
    for (const [name, meshes] of scene.meshes) {
      const op = opacity[name] ?? 1;
      for (const m of meshes) {
        const mat = m.material as MeshStandardMaterial;
        m.visible = !hidden[name] && op > 0;
        mat.opacity = op;
        mat.transparent = op < 1;
        mat.depthWrite = op >= 1;
        mat.emissive.copy(name === selected ? HIGHLIGHT : NO_EMISSIVE);
        mat.clippingPlanes = clip.enabled ? [plane] : null;
        mat.needsUpdate = true;
        m.renderOrder = op < 1 ? 1 : 0;
      }
    }
    invalidate();
  }, [scene, hidden, opacity, selected, clip, plane, invalidate]);

  function onClick(e: ThreeEvent<MouseEvent>) {
    e.stopPropagation();
    const hit = e.intersections.find((i) => isPickable(i.object as Mesh, i.point, clip.enabled ? plane : null));
    select((hit?.object.userData.structure as string) ?? null);
  }

  return <primitive object={scene.root} onClick={onClick} onPointerMissed={() => select(null)} />;
}

function isPickable(m: Mesh, point: Vector3, plane: Plane | null): boolean {
  let visible = true;
  m.traverseAncestors((a) => (visible &&= a.visible));
  return visible && m.visible && (!plane || plane.distanceToPoint(point) >= 0);
}

/** Frame the whole body on load and on reset; superior up, viewed from anterior. */
function CameraRig({ scene }: { scene: LoadedScene }) {
  const controls = useRef<OrbitControlsImpl>(null);
  const camera = useThree((s) => s.camera) as PerspectiveCamera;
  const invalidate = useThree((s) => s.invalidate);
  const resetSignal = useViewer((s) => s.resetSignal);

  useEffect(() => {
    frame(camera, scene.bounds, controls.current);
    invalidate();
  }, [scene, resetSignal, camera, invalidate]);

  return <OrbitControls ref={controls} makeDefault enableDamping={false} />;
}

export function frame(camera: PerspectiveCamera, bounds: Box3, controls: OrbitControlsImpl | null) {
  const center = bounds.isEmpty() ? new Vector3() : bounds.getCenter(new Vector3());
  const size = bounds.isEmpty() ? 100 : bounds.getSize(new Vector3()).length();
  const dist = size / (2 * Math.tan((camera.fov * Math.PI) / 360)) * 1.1;
  camera.position.set(center.x, center.y, center.z + dist);
  camera.up.set(0, 1, 0);
  camera.near = Math.max(0.1, dist / 100);
  camera.far = dist * 10;
  camera.lookAt(center);
  camera.updateProjectionMatrix();
  if (controls) {
    controls.target.copy(center);
    controls.update();
  }
}

function Screenshot({ name }: { name: string }) {
  const { gl, scene, camera } = useThree();
  const signal = useViewer((s) => s.screenshotSignal);
  const first = useRef(signal);
  useEffect(() => {
    if (signal === first.current) return;
    gl.render(scene, camera);
    gl.domElement.toBlob((blob) => {
      if (!blob) return;
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    }, 'image/png');
  }, [signal, gl, scene, camera, name]);
  return null;
}

declare global {
  interface Window {
    __oculusViewer?: {
      structures: number;
      triangles: number;
      framesRendered: number;
      /** Render `frames` frames while orbiting 360°, each finished on the GPU; returns ms per frame. */
      orbit: (frames: number) => number[];
    };
  }
}

/** Measurement hooks for the e2e tests and the benchmark: a performance mark at the first frame. */
function BenchHook({ scene }: { scene: LoadedScene }) {
  const { gl, scene: threeScene, camera, controls } = useThree();
  const frames = useRef(0);
  useFrame(() => {
    frames.current += 1;
    if (frames.current === 1) performance.mark('oculus:first-frame');
    if (window.__oculusViewer) window.__oculusViewer.framesRendered = frames.current;
  });
  useEffect(() => {
    window.__oculusViewer = {
      structures: scene.meshes.size,
      triangles: scene.triangles,
      framesRendered: frames.current,
      orbit: (n) => {
        const target = (controls as unknown as OrbitControlsImpl | null)?.target ?? new Vector3();
        const offset = camera.position.clone().sub(target);
        const times: number[] = [];
        const ctx = gl.getContext();
        const px = new Uint8Array(4);
        for (let i = 0; i < n; i++) {
          offset.applyAxisAngle(new Vector3(0, 1, 0), (2 * Math.PI) / n);
          camera.position.copy(target).add(offset);
          camera.lookAt(target);
          const t0 = performance.now();
          gl.render(threeScene, camera);
          ctx.readPixels(0, 0, 1, 1, ctx.RGBA, ctx.UNSIGNED_BYTE, px); // waits for the GPU
          times.push(performance.now() - t0);
        }
        return times;
      },
    };
    return () => void delete window.__oculusViewer;
  }, [scene, gl, threeScene, camera, controls]);
  return null;
}
