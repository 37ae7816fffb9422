// How much each frame of the 3D view may cost. On a GPU: everything (multisampling, the prefiltered
// environment light, physically based shading). On software WebGL (SwiftShader or llvmpipe: a
// browser without a usable GPU, as on this project's CI machines) each of those costs the CPU:
// measured in headless Chromium on 2 cores, the environment light alone held the first frame of
// example_ct's 154 k triangles back by 4-5 s, and physically based shading with multisampling took
// 1.1-1.6 s of it against 0.5-0.7 s for Lambert shading without. The light stays the same there
// (hemisphere and directional lights), only cheaper to draw.

export interface RenderQuality {
  antialias: boolean;
  environment: boolean;
  shading: 'standard' | 'lambert';
}

export const FULL_QUALITY: RenderQuality = { antialias: true, environment: true, shading: 'standard' };
export const SOFTWARE_QUALITY: RenderQuality = { antialias: false, environment: false, shading: 'lambert' };

/** The renderer string of a software rasteriser (SwiftShader, llvmpipe, softpipe, Microsoft's Basic Render Driver). */
export function isSoftwareRenderer(renderer: string): boolean {
  return /swiftshader|llvmpipe|softpipe|software|basic render/i.test(renderer);
}

let probed: RenderQuality | undefined;

/** This browser's quality, probed once on a throwaway WebGL context (full where no context can be made). */
export function renderQuality(): RenderQuality {
  if (probed) return probed;
  let renderer = '';
  try {
    const context = document.createElement('canvas').getContext('webgl2') ?? document.createElement('canvas').getContext('webgl');
    if (context) {
      const info = context.getExtension('WEBGL_debug_renderer_info');
      renderer = String(context.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : context.RENDERER) ?? '');
      context.getExtension('WEBGL_lose_context')?.loseContext();
    }
  } catch {
    // no WebGL here (a test environment): the viewer reports that itself
  }
  probed = isSoftwareRenderer(renderer) ? SOFTWARE_QUALITY : FULL_QUALITY;
  return probed;
}
