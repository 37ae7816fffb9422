import { act, render, screen } from '@testing-library/react';
import { StrictMode, useEffect, useRef } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useNiivue, type NiivueHandle, type NiivueOptions } from './useNiivue';

// A stand-in for NiiVue (jsdom has no WebGL): it records what the hook does to it, and the test
// decides when and how attachToCanvas settles.
const niivue = vi.hoisted(() => {
  class FakeNiivue {
    static instances: FakeNiivue[] = [];
    canvas: HTMLCanvasElement | null = null;
    hasContext = false;
    cleanup = vi.fn();
    loseContext = vi.fn();
    settle!: { attach: () => void; fail: (e: Error) => void };
    constructor(readonly opts: unknown) {
      FakeNiivue.instances.push(this);
    }
    attachToCanvas(canvas: HTMLCanvasElement, withContext = true) {
      this.canvas = canvas;
      this.hasContext = withContext;
      return new Promise<this>((resolve, reject) => {
        this.settle = { attach: () => resolve(this), fail: reject };
      });
    }
    // As NiiVue's own getter: throws when attachToCanvas could not create a WebGL2 context.
    get gl() {
      if (!this.hasContext) throw new Error("unable to get WebGL context. Maybe the browser doesn't support WebGL2.");
      return { getExtension: (name: string) => (name === 'WEBGL_lose_context' ? { loseContext: this.loseContext } : null) };
    }
  }
  return { FakeNiivue };
});
vi.mock('@niivue/niivue', () => ({ Niivue: niivue.FakeNiivue }));

const { instances } = niivue.FakeNiivue;
const OPTIONS: NiivueOptions = { isColorbar: false };

function Probe({ onHandle }: { onHandle: (handle: NiivueHandle) => void }) {
  const host = useRef<HTMLDivElement>(null);
  const handle = useNiivue(host, OPTIONS, 'Scan slices');
  useEffect(() => {
    onHandle(handle);
  }, [handle, onHandle]);
  return <div ref={host} data-testid="host" />;
}

const last = (seen: NiivueHandle[]) => seen[seen.length - 1];

afterEach(() => {
  instances.length = 0;
});

describe('useNiivue', () => {
  it('attaches NiiVue to a canvas of its own and hands it over once attached', async () => {
    const seen: NiivueHandle[] = [];
    render(<Probe onHandle={(h) => seen.push(h)} />);
    expect(instances).toHaveLength(1);
    const [nv] = instances;
    expect(nv.opts).toBe(OPTIONS);
    expect(screen.getByTestId('host').querySelector('canvas')).toBe(nv.canvas);
    expect(nv.canvas).toHaveAttribute('aria-label', 'Scan slices');
    expect(last(seen)).toEqual({ nv: null, error: null });

    await act(async () => nv.settle.attach());
    expect(last(seen).nv).toBe(nv);
  });

  it('on unmount removes its listeners, loses the WebGL context and removes the canvas', async () => {
    const { unmount } = render(<Probe onHandle={() => {}} />);
    const [nv] = instances;
    await act(async () => nv.settle.attach());
    const canvas = nv.canvas!;
    expect(canvas.isConnected).toBe(true);

    unmount();
    expect(nv.cleanup).toHaveBeenCalledTimes(1);
    expect(nv.loseContext).toHaveBeenCalledTimes(1);
    expect(canvas.isConnected).toBe(false);
  });

  it('releases the context when unmounted while still attaching, and never hands that NiiVue over', async () => {
    const seen: NiivueHandle[] = [];
    const { unmount } = render(<Probe onHandle={(h) => seen.push(h)} />);
    const [nv] = instances;
    unmount();
    expect(nv.loseContext).toHaveBeenCalledTimes(1);
    await act(async () => nv.settle.attach());
    expect(seen.every((h) => h.nv === null)).toBe(true);
  });

  it('says why when WebGL2 cannot be set up, and releases nothing it did not get', async () => {
    const seen: NiivueHandle[] = [];
    const { unmount } = render(<Probe onHandle={(h) => seen.push(h)} />);
    const [nv] = instances;
    nv.hasContext = false;
    await act(async () => nv.settle.fail(new Error('WebGL2 is not available')));
    expect(last(seen)).toEqual({ nv: null, error: 'WebGL2 is not available' });

    unmount();
    expect(nv.cleanup).toHaveBeenCalledTimes(1);
    expect(nv.loseContext).not.toHaveBeenCalled();
  });

  it("under StrictMode's remount, the second NiiVue gets a fresh canvas and the first is released", async () => {
    const seen: NiivueHandle[] = [];
    render(
      <StrictMode>
        <Probe onHandle={(h) => seen.push(h)} />
      </StrictMode>,
    );
    expect(instances).toHaveLength(2);
    const [first, second] = instances;
    expect(first.loseContext).toHaveBeenCalledTimes(1);
    expect(first.canvas!.isConnected).toBe(false);
    expect(second.canvas).not.toBe(first.canvas);
    expect(screen.getByTestId('host').querySelectorAll('canvas')).toHaveLength(1);

    await act(async () => {
      first.settle.attach();
      second.settle.attach();
    });
    expect(last(seen).nv).toBe(second);
    expect(second.loseContext).not.toHaveBeenCalled();
  });
});
