import { act, fireEvent, render, screen } from '@testing-library/react';
import { useMemo, useState } from 'react';
import { beforeEach, describe, expect, it } from 'vitest';
import { structuresFromReport } from '../lib/anatomy';
import { useViewer } from '../state/viewer';
import { HelpDialog } from './HelpDialog';
import { isTyping, useShortcuts, viewerShortcuts } from './shortcuts';

function Harness() {
  const [open, setOpen] = useState(false);
  const shortcuts = useMemo(() => viewerShortcuts({ help: () => setOpen(true) }), []);
  useShortcuts(shortcuts);
  return (
    <>
      <input aria-label="text field" />
      <HelpDialog open={open} onClose={() => setOpen(false)} shortcuts={shortcuts} />
    </>
  );
}

beforeEach(() => act(() => useViewer.getState().load(structuresFromReport([{ label: 1, name: 'liver' }, { label: 2, name: 'spleen' }]))));

describe('keyboard shortcuts', () => {
  it('opens the help dialog listing the shortcuts', () => {
    render(<Harness />);
    fireEvent.keyDown(window, { key: '?' });
    const dialog = screen.getByRole('dialog', { name: 'Keyboard shortcuts', hidden: true });
    expect(dialog).toHaveAttribute('open');
    expect(dialog).toHaveTextContent('Isolate the selected structure');
  });

  it('acts on the selection: hide, isolate, show all, clear', () => {
    render(<Harness />);
    act(() => useViewer.getState().select('liver'));
    fireEvent.keyDown(window, { key: 'h' });
    expect(useViewer.getState().hidden.liver).toBe(true);
    fireEvent.keyDown(window, { key: 'i' });
    expect(useViewer.getState().hidden).toEqual({ liver: false, spleen: true });
    fireEvent.keyDown(window, { key: 'a' });
    expect(useViewer.getState().hidden).toEqual({});
    fireEvent.keyDown(window, { key: 'c' });
    expect(useViewer.getState().clip.enabled).toBe(true);
    fireEvent.keyDown(window, { key: 'Escape' });
    expect(useViewer.getState().selected).toBeNull();
  });

  it('ignores keys typed into a text field', () => {
    render(<Harness />);
    const before = useViewer.getState().resetSignal;
    fireEvent.keyDown(screen.getByLabelText('text field'), { key: 'r' });
    expect(useViewer.getState().resetSignal).toBe(before);
    fireEvent.keyDown(window, { key: 'r' });
    expect(useViewer.getState().resetSignal).toBe(before + 1);
    const box = document.createElement('input');
    box.type = 'checkbox';
    expect(isTyping(box)).toBe(false);
  });

  it('leaves Escape to an open dialog, so the browser closes it', () => {
    render(<Harness />);
    act(() => useViewer.getState().select('liver'));
    fireEvent.keyDown(window, { key: '?' });
    const notPrevented = fireEvent.keyDown(window, { key: 'Escape' });
    expect(notPrevented).toBe(true);
    expect(useViewer.getState().selected).toBe('liver'); // nothing acts behind the dialog
  });
});
