// NiiVue on a canvas of its own inside `host`, for as long as the component stays mounted.
// On unmount NiiVue's listeners and observers are removed and its WebGL context is lost on
// purpose: browsers keep only a handful of live contexts and drop the oldest, so a context left
// for garbage collection can cost the 3D view its own. Every mount gets a fresh canvas, so
// StrictMode's mount → unmount → mount never reuses a context that was just lost.
import { Niivue } from '@niivue/niivue';
import { useEffect, useState, type RefObject } from 'react';

export type NiivueOptions = ConstructorParameters<typeof Niivue>[0];

/** `nv` once NiiVue is attached and can load volumes; `error` if WebGL2 could not be set up. */
export type NiivueHandle = { nv: Niivue | null; error: string | null };

const DETACHED: NiivueHandle = { nv: null, error: null };

/** `options` is read when the host mounts: pass a constant, not an object literal per render. */
export function useNiivue(host: RefObject<HTMLElement | null>, options: NiivueOptions, canvasLabel: string): NiivueHandle {
  const [handle, setHandle] = useState<NiivueHandle>(DETACHED);
  useEffect(() => {
    const parent = host.current;
    if (!parent) return;
    let disposed = false;
    const canvas = document.createElement('canvas');
    canvas.className = 'absolute inset-0 h-full w-full';
    canvas.setAttribute('aria-label', canvasLabel);
    parent.appendChild(canvas);
    const nv = new Niivue(options);
    nv.attachToCanvas(canvas).then(
      () => {
        if (!disposed) setHandle({ nv, error: null });
      },
      (e: unknown) => {
        if (!disposed) setHandle({ nv: null, error: e instanceof Error ? e.message : String(e) });
      },
    );
    return () => {
      disposed = true;
      nv.cleanup();
      loseWebGLContext(nv);
      canvas.remove();
      setHandle(DETACHED);
    };
  }, [host, options, canvasLabel]);
  return handle;
}

function loseWebGLContext(nv: Niivue) {
  let gl: WebGL2RenderingContext;
  try {
    gl = nv.gl; // NiiVue's getter throws when attachToCanvas got no context: nothing to release then
  } catch {
    return;
  }
  gl.getExtension('WEBGL_lose_context')?.loseContext();
}
