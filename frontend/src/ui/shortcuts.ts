// Global keyboard shortcuts. Ignored while typing in a field.
import { useEffect } from 'react';
import { useViewer } from '../state/viewer';

export interface Shortcut {
  key: string;
  label: string;
  run: () => void;
}

export function viewerShortcuts(extra: { help: () => void }): Shortcut[] {
  const v = () => useViewer.getState();
  return [
    { key: '?', label: 'Show this help', run: extra.help },
    { key: '/', label: 'Search structures', run: () => document.getElementById('structure-search')?.focus() },
    { key: 'r', label: 'Reset the 3D view', run: () => v().requestReset() },
    { key: 'p', label: 'Screenshot of the 3D view (PNG)', run: () => v().requestScreenshot() },
    { key: 'c', label: 'Clipping plane on/off', run: () => v().setClip({ enabled: !v().clip.enabled }) },
    { key: 'h', label: 'Hide / show the selected structure', run: () => v().selected && v().toggle(v().selected!) },
    { key: 'i', label: 'Isolate the selected structure', run: () => v().selected && v().isolate(v().selected!) },
    { key: 'a', label: 'Show all structures', run: () => v().showAll() },
    { key: 'd', label: 'Dim the other structures on/off', run: () => v().toggleDimOthers() },
    { key: 'l', label: 'Show / hide the slices', run: () => v().toggleSlices() },
    { key: 'Escape', label: 'Clear the selection', run: () => v().select(null) },
  ];
}

export function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  const tag = el.tagName.toLowerCase();
  const type = (el as HTMLInputElement).type;
  if (tag === 'input' && ['checkbox', 'radio', 'range', 'button'].includes(type)) return false;
  return tag === 'input' || tag === 'textarea' || tag === 'select' || el.isContentEditable;
}

export function useShortcuts(shortcuts: Shortcut[]) {
  useEffect(() => {
    function onKey(e: KeyboardEvent) {
      if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
      // An open dialog owns the keyboard: Escape must reach it (the browser closes it on an
      // Escape that nobody prevented), and no shortcut acts behind it.
      if (document.querySelector('dialog[open]')) return;
      const s = shortcuts.find((x) => x.key === e.key);
      if (!s) return;
      e.preventDefault();
      s.run();
    }
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [shortcuts]);
}
