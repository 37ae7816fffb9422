// The WebGL view of a segmentation: structures, picking, clipping, standard views, orientation
// cube and scale bar, screenshot.
import { addAfterEffect, Canvas, useFrame, useThree, type ThreeEvent } from '@react-three/fiber';
import { OrbitControls } from '@react-three/drei';
import { useEffect, useMemo, useRef, type RefObject } from 'react';
import { Box3, Color, DoubleSide, FrontSide, Plane, PMREMGenerator, Raycaster, Vector2, Vector3, type Camera, type Mesh, type MeshLambertMaterial, type MeshStandardMaterial, type PerspectiveCamera, type Scene, type WebGLRenderer } from 'three';
import { RoomEnvironment } from 'three/examples/jsm/environments/RoomEnvironment.js';
import type { OrbitControls as OrbitControlsImpl } from 'three-stdlib';
import { CLIP_AXES, FACE_LABELS, STANDARD_VIEWS, cubeTransform, niceScaleMm, rasToThree, type StandardView } from '../lib/ras';
import { useViewer } from '../state/viewer';
import type { LoadedScene } from './loadScene';
import { renderQuality } from './renderQuality';
import { Outlines } from './outline';

export const BACKGROUND = '#0b1120';
/** The selected structure glows in the app's accent colour, whatever its own colour. */
const SELECTED_GLOW = new Color('#38bdf8');
const SELECTED_GLOW_INTENSITY = 0.4;
const NO_EMISSIVE = new Color(0x000000);
/** Opacity of the other structures while "dim others" is on. */
const DIMMED_OPACITY = 0.12;

interface Props {
  /** null while the scene is still being fetched: the canvas and its lighting are made meanwhile */
  scene: LoadedScene | null;
  screenshotName: string;
}

export default function Scene3D({ scene, screenshotName }: Props) {
  // The overlays (orientation cube, scale bar) follow the camera: CameraRig rewrites them after each render.
  const overlays = useRef<HTMLDivElement>(null);
  return (
    <div className="relative h-full w-full" ref={overlays}>
      <Canvas
        className="h-full w-full"
        frameloop="demand"
        dpr={[1, 2]}
        gl={{ preserveDrawingBuffer: true, antialias: renderQuality().antialias }}
        camera={{ fov: 35, near: 1, far: 20000, position: [0, 0, 800] }}
        onCreated={({ gl }) => {
          gl.localClippingEnabled = true;
        }}
        aria-label="3D view of the segmented structures"
        role="img"
        data-testid="scene-canvas"
      >
        <color attach="background" args={[BACKGROUND]} />
        {/* without the environment light (software WebGL) the sky light stands in for its fill */}
        <hemisphereLight args={['#ffffff', '#334155', renderQuality().environment ? 0.6 : 0.9]} />
        <directionalLight position={[300, 500, 800]} intensity={1.2} />
        <directionalLight position={[-400, -200, -600]} intensity={0.4} />
        <Environment />
        {scene && (
          <>
            <Structures scene={scene} />
            <SlicePlanes bounds={scene.bounds} />
            <CameraRig scene={scene} overlays={overlays} />
            <BenchHook scene={scene} />
          </>
        )}
        <Screenshot name={screenshotName} />
      </Canvas>
      <OrientationCube />
      <ScaleBar />
      {renderQuality().shading === 'lambert' && (
        <span className="pointer-events-none absolute bottom-2 left-2 text-[11px] text-slate-400" data-testid="software-rendering" title="This browser draws without a GPU: no environment light, no smoothing of edges, simpler shading. The meshes are the same.">
          No GPU: simplified lighting
        </span>
      )}
    </div>
  );
}

const CUBE_FACES: [keyof typeof FACE_LABELS, string, string][] = [
  ['pz', 'translateZ(22px)', "the patient's anterior"],
  ['nz', 'rotateY(180deg) translateZ(22px)', "the patient's posterior"],
  ['px', 'rotateY(90deg) translateZ(22px)', "the patient's left"],
  ['nx', 'rotateY(-90deg) translateZ(22px)', "the patient's right"],
  ['py', 'rotateX(90deg) translateZ(22px)', 'superior'],
  ['ny', 'rotateX(-90deg) translateZ(22px)', 'inferior'],
];

/** A CSS 3D cube labelled R/L/A/P/S/I that turns with the camera (CameraRig writes its transform). */
function OrientationCube() {
  return (
    <div className="pointer-events-none absolute right-2 top-2 h-16 w-16 [perspective:300px]" data-testid="orientation-cube" aria-hidden="true">
      <div data-overlay="cube" className="absolute left-2.5 top-2.5 h-11 w-11 [transform-style:preserve-3d]">
        {CUBE_FACES.map(([key, transform, title]) => (
          <div
            key={key}
            data-face={FACE_LABELS[key]}
            title={title}
            className="absolute inset-0 flex items-center justify-center border border-sky-300/70 bg-slate-800/85 text-sm font-bold text-sky-100 [backface-visibility:hidden]"
            style={{ transform }}
          >
            {FACE_LABELS[key]}
          </div>
        ))}
      </div>
    </div>
  );
}

/** Millimetres at the centre of rotation (the orbit target); CameraRig writes its width and label. */
function ScaleBar() {
  return (
    <div className="pointer-events-none absolute bottom-2 right-2 flex flex-col items-end text-[11px] text-slate-200" data-testid="scale-bar" title="Length at the centre of rotation">
      <span data-overlay="scale-label" data-testid="scale-label" />
      <div data-overlay="scale-bar" className="h-1.5 border-x-2 border-b-2 border-slate-200" />
    </div>
  );
}

function Environment() {
  const { gl, scene, invalidate } = useThree();
  useEffect(() => {
    if (!renderQuality().environment) return; // software WebGL: the lights alone (renderQuality.ts)
    const remove = addRoomEnvironment(gl, scene);
    invalidate();
    return remove;
  }, [gl, scene, invalidate]);
  return null;
}

// The effects hand three.js objects to plain functions like this one, which change them in
// place as three.js expects: the scene graph is outside React, and the canvas renders on demand.

/** Soft image-based light generated in the page (RoomEnvironment): nothing is fetched. Returns its removal. */
function addRoomEnvironment(gl: WebGLRenderer, scene: Scene): () => void {
  const pmrem = new PMREMGenerator(gl);
  const env = pmrem.fromScene(new RoomEnvironment(), 0.04).texture;
  scene.environment = env;
  scene.environmentIntensity = 0.35;
  return () => {
    scene.environment = null;
    env.dispose();
    pmrem.dispose();
  };
}

function Structures({ scene }: { scene: LoadedScene }) {
  const invalidate = useThree((s) => s.invalidate);
  const hidden = useViewer((s) => s.hidden);
  const opacity = useViewer((s) => s.opacity);
  const selected = useViewer((s) => s.selected);
  const clip = useViewer((s) => s.clip);
  const dimOthers = useViewer((s) => s.dimOthers);
  const select = useViewer((s) => s.select);
  const plane = useMemo(() => new Plane(new Vector3(0, -1, 0), 0), []);
  const { width, height } = useThree((s) => s.size);
  const outlines = useMemo(() => new Outlines(scene), [scene]);
  useEffect(() => () => outlines.dispose(), [outlines]);

  useEffect(() => {
    const b = scene.bounds;
    const normal = CLIP_AXES[clip.axis].clone().multiplyScalar(clip.flip ? -1 : 1);
    // position 0..1 across the bounding box along the plane's axis
    const axisIdx = clip.axis === 'axial' ? 'y' : clip.axis === 'coronal' ? 'z' : 'x';
    const at = b.min[axisIdx] + (b.max[axisIdx] - b.min[axisIdx]) * clip.position;
    const point = new Vector3().setComponent(['x', 'y', 'z'].indexOf(axisIdx), at);
    plane.setFromNormalAndCoplanarPoint(normal, point);
    showStructures(scene, { hidden, opacity, selected, dimOthers, clipPlane: clip.enabled ? plane : null });
    outlines.show(selected, clip.enabled ? plane : null, width, height);
    invalidate();
  }, [scene, hidden, opacity, selected, dimOthers, clip, plane, invalidate, outlines, width, height]);

  function onClick(e: ThreeEvent<MouseEvent>) {
    e.stopPropagation();
    const hit = e.intersections.find((i) => isPickable(i.object as Mesh, i.point, clip.enabled ? plane : null));
    select((hit?.object.userData.structure as string) ?? null);
  }

  return <primitive object={scene.root} onClick={onClick} onPointerMissed={() => select(null)} />;
}

/** The slices' three planes through their crosshair, see-through, while the slices are shown. */
function SlicePlanes({ bounds }: { bounds: Box3 }) {
  const cursor = useViewer((s) => s.sliceCursor);
  const invalidate = useThree((s) => s.invalidate);
  useEffect(() => invalidate(), [cursor, invalidate]);
  if (!cursor || bounds.isEmpty()) return null;
  const at = rasToThree(cursor);
  const size = bounds.getSize(new Vector3()).multiplyScalar(1.1);
  const c = bounds.getCenter(new Vector3());
  // three.js axes: x = patient's left, y = superior, z = anterior (lib/ras.ts)
  const planes: { name: string; position: [number, number, number]; rotation: [number, number, number]; size: [number, number]; color: string }[] = [
    { name: 'axial', position: [c.x, at.y, c.z], rotation: [-Math.PI / 2, 0, 0], size: [size.x, size.z], color: '#38bdf8' },
    { name: 'coronal', position: [c.x, c.y, at.z], rotation: [0, 0, 0], size: [size.x, size.y], color: '#a3e635' },
    { name: 'sagittal', position: [at.x, c.y, c.z], rotation: [0, Math.PI / 2, 0], size: [size.z, size.y], color: '#f472b6' },
  ];
  return (
    <group name="slice-planes">
      {planes.map((p) => (
        <mesh key={p.name} position={p.position} rotation={p.rotation} renderOrder={2} raycast={() => null}>
          <planeGeometry args={p.size} />
          <meshBasicMaterial color={p.color} transparent opacity={0.12} depthWrite={false} side={DoubleSide} />
        </mesh>
      ))}
    </group>
  );
}

type Look = { hidden: Record<string, boolean>; opacity: Record<string, number>; selected: string | null; dimOthers: boolean; clipPlane: Plane | null };

/** Each structure's visibility, opacity, highlight and clipping as the viewer state says. */
export function showStructures(scene: LoadedScene, { hidden, opacity, selected, dimOthers, clipPlane }: Look) {
  for (const [name, meshes] of scene.meshes) {
    const own = opacity[name] ?? 1;
    const op = dimOthers && selected && name !== selected ? Math.min(own, DIMMED_OPACITY) : own;
    for (const m of meshes) {
      const mat = m.material as MeshStandardMaterial | MeshLambertMaterial;
      m.visible = !hidden[name] && op > 0;
      mat.opacity = op;
      mat.transparent = op < 1;
      mat.depthWrite = op >= 1;
      mat.emissive.copy(name === selected ? SELECTED_GLOW : NO_EMISSIVE);
      mat.emissiveIntensity = name === selected ? SELECTED_GLOW_INTENSITY : 1;
      mat.clippingPlanes = clipPlane ? [clipPlane] : null;
      mat.side = clipPlane ? DoubleSide : FrontSide; // a clipped mesh shows its inside instead of vanishing
      mat.needsUpdate = true;
      m.renderOrder = op < 1 ? 1 : 0;
    }
  }
}

export function isPickable(m: Mesh, point: Vector3, plane: Plane | null): boolean {
  let visible = true;
  m.traverseAncestors((a) => (visible &&= a.visible));
  return visible && m.visible && (!plane || plane.distanceToPoint(point) >= 0);
}

/** Frame the whole body on load and on reset; superior up, viewed from anterior; standard views on request. */
function CameraRig({ scene, overlays }: { scene: LoadedScene; overlays: RefObject<HTMLDivElement | null> }) {
  const controls = useRef<OrbitControlsImpl>(null);
  const camera = useThree((s) => s.camera) as PerspectiveCamera;
  const height = useThree((s) => s.size.height);
  const invalidate = useThree((s) => s.invalidate);
  const resetSignal = useViewer((s) => s.resetSignal);
  const viewRequest = useViewer((s) => s.viewRequest);

  useEffect(() => {
    frame(camera, scene.bounds, controls.current);
    invalidate();
  }, [scene, resetSignal, camera, invalidate]);

  // Opening or closing the slice panel changes the canvas's shape: fit the body again, same direction.
  const width = useThree((s) => s.size.width);
  const slicesOpen = useViewer((s) => s.slicesOpen);
  const fitted = useRef({ width, slicesOpen });
  useEffect(() => {
    // The toggle comes first, the new width a render later: refit once both have changed.
    if (fitted.current.slicesOpen !== slicesOpen && fitted.current.width !== width) {
      const target = controls.current?.target ?? new Vector3();
      frame(camera, scene.bounds, controls.current, camera.position.clone().sub(target).normalize());
      invalidate();
      fitted.current.slicesOpen = slicesOpen;
    }
    fitted.current.width = width;
  }, [width, slicesOpen, scene, camera, invalidate]);

  // A request made before this scene mounted (another job, an earlier visit) is not replayed.
  const requestAtMount = useRef(viewRequest?.n);
  useEffect(() => {
    if (!viewRequest || viewRequest.n === requestAtMount.current) return;
    frame(camera, scene.bounds, controls.current, viewRequest.view);
    invalidate();
  }, [viewRequest, scene, camera, invalidate]);

  // The overlays follow the camera after every render (orbit, zoom, resize, standard view).
  useFrame(() => updateOverlays(overlays.current, camera, controls.current?.target ?? new Vector3(), height));

  return <OrbitControls ref={controls} makeDefault enableDamping={false} />;
}

/** Turn the orientation cube with the camera; size the scale bar for the distance to the orbit target. */
function updateOverlays(host: HTMLElement | null, camera: PerspectiveCamera, target: Vector3, height: number) {
  if (!host) return;
  const find = (name: string) => host.querySelector<HTMLElement>(`[data-overlay="${name}"]`);
  const cube = find('cube');
  if (cube) cube.style.transform = cubeTransform(camera.quaternion);
  const pxPerMm = height / (2 * camera.position.distanceTo(target) * Math.tan((camera.fov * Math.PI) / 360));
  const { mm, px } = niceScaleMm(pxPerMm);
  const bar = find('scale-bar');
  if (bar) bar.style.width = `${px.toFixed(1)}px`;
  const label = find('scale-label');
  if (label) label.textContent = mm >= 10 ? `${mm / 10} cm` : `${mm} mm`;
}

/** Fit the bounds in view (in the narrower of the two fields of view) from a standard view or direction, superior up. */
export function frame(camera: PerspectiveCamera, bounds: Box3, controls: OrbitControlsImpl | null, view: StandardView | Vector3 = 'anterior') {
  const center = bounds.isEmpty() ? new Vector3() : bounds.getCenter(new Vector3());
  const size = bounds.isEmpty() ? 100 : bounds.getSize(new Vector3()).length();
  const halfTan = Math.tan((camera.fov * Math.PI) / 360) * Math.min(1, camera.aspect || 1);
  const dist = (size / (2 * halfTan)) * 1.05;
  camera.position.copy(center).addScaledVector(typeof view === 'string' ? STANDARD_VIEWS[view] : view, dist);
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
      /** The structure first hit by the ray from the camera through a RAS point (mm), or null. */
      pickThrough: (ras: number[]) => string | null;
      /** Where a RAS point (mm) lies on the page, in CSS pixels. */
      screenOf: (ras: number[]) => { x: number; y: number };
    };
  }
}

/**
 * Measurement hooks for the e2e tests and the benchmark: a performance mark once the first frame
 * is drawn. WebGL returns from draw calls at once and draws later (in software GL, seconds later),
 * so the mark waits for one pixel of the drawn frame: the time the user sees the scene.
 */
function BenchHook({ scene }: { scene: LoadedScene }) {
  const { gl, scene: threeScene, camera, controls } = useThree();
  const frames = useRef(0);
  const drawn = useRef(false);
  useFrame(() => {
    frames.current += 1;
    if (window.__oculusViewer) window.__oculusViewer.framesRendered = frames.current;
  });
  useEffect(
    () =>
      addAfterEffect(() => {
        if (frames.current === 0 || drawn.current) return;
        drawn.current = true;
        const context = gl.getContext();
        context.readPixels(0, 0, 1, 1, context.RGBA, context.UNSIGNED_BYTE, new Uint8Array(4)); // waits for the drawing
        performance.mark('oculus:first-frame');
      }),
    [gl],
  );
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
      pickThrough: (ras) => {
        const ndc = rasToThree(ras).project(camera);
        return firstStructureHit(threeScene, camera, new Vector2(ndc.x, ndc.y));
      },
      screenOf: (ras) => {
        const ndc = rasToThree(ras).project(camera);
        const r = gl.domElement.getBoundingClientRect();
        return { x: r.left + ((ndc.x + 1) / 2) * r.width, y: r.top + ((1 - ndc.y) / 2) * r.height };
      },
    };
    return () => void delete window.__oculusViewer;
  }, [scene, gl, threeScene, camera, controls]);
  return null;
}

function firstStructureHit(scene: Scene, camera: Camera, ndc: Vector2): string | null {
  const ray = new Raycaster();
  ray.setFromCamera(ndc, camera);
  const hit = ray.intersectObjects(scene.children, true).find((i) => i.object.userData.structure && isPickable(i.object as Mesh, i.point, null));
  return (hit?.object.userData.structure as string | undefined) ?? null;
}
