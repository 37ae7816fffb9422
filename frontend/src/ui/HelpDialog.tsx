import { useEffect, useRef } from 'react';
import { closeDialog, openDialog } from './dialog';
import type { Shortcut } from './shortcuts';

export function HelpDialog({ open, onClose, shortcuts }: { open: boolean; onClose: () => void; shortcuts: Shortcut[] }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    if (open) openDialog(ref.current);
    else closeDialog(ref.current);
  }, [open]);
  return (
    <dialog ref={ref} onClose={onClose} aria-labelledby="help-title" className="m-auto w-96 rounded border border-slate-700 bg-slate-900 p-4 text-slate-200 backdrop:bg-black/60">
      <h2 id="help-title" className="mb-2 font-semibold">
        Keyboard shortcuts
      </h2>
      <dl className="grid grid-cols-[5rem_1fr] gap-x-3 gap-y-1 text-sm">
        {shortcuts.map((s) => (
          <div key={s.key} className="contents">
            <dt>
              <kbd className="rounded border border-slate-600 bg-slate-800 px-1.5 font-mono text-xs">{s.key === ' ' ? 'Space' : s.key}</kbd>
            </dt>
            <dd className="text-slate-300">{s.label}</dd>
          </div>
        ))}
      </dl>
      <p className="mt-3 text-xs text-slate-400">Mouse: drag to rotate, right-drag to pan, wheel to zoom, click a structure to select it. Tab moves through every control.</p>
      <div className="mt-3 text-right">
        <button type="button" className="btn-secondary" onClick={onClose} autoFocus>
          Close
        </button>
      </div>
    </dialog>
  );
}
