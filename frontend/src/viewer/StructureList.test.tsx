import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { beforeEach, describe, expect, it } from 'vitest';
import { structuresFromReport } from '../lib/anatomy';
import { useViewer } from '../state/viewer';
import { StructureList } from './StructureList';

beforeEach(() => {
  act(() =>
    useViewer.getState().load(
      structuresFromReport([
        { label: 1, name: 'liver', volumeMl: 1523.4, color: [220, 100, 80], centroidMm: [1, 2, 3] },
        { label: 2, name: 'kidney_left', volumeMl: 150.25, color: [200, 200, 0] },
        { label: 3, name: 'vertebrae_L1', volumeMl: 30, system: 'bones' },
      ]),
    ),
  );
});

describe('StructureList', () => {
  it('groups structures by system with volumes beside the names', () => {
    render(<StructureList />);
    const groups = screen.getAllByRole('listitem').filter((el) => el.tagName === 'DETAILS');
    expect(groups.map((g) => g.querySelector('summary span')!.textContent)).toEqual(['organs (2)', 'bones (1)']);
    expect(screen.getByText('1523 mL')).toBeInTheDocument();
    expect(screen.getByText('3 of 3 shown')).toBeInTheDocument();
  });

  it('filters by search', () => {
    render(<StructureList />);
    fireEvent.change(screen.getByLabelText('Search structures'), { target: { value: 'kidney' } });
    expect(screen.getByRole('button', { name: 'kidney left' })).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'liver' })).not.toBeInTheDocument();
    fireEvent.change(screen.getByLabelText('Search structures'), { target: { value: 'zzz' } });
    expect(screen.getByText(/No structure matches/)).toBeInTheDocument();
  });

  it('toggles visibility, hides all, shows all', () => {
    render(<StructureList />);
    fireEvent.click(screen.getByLabelText('Show liver'));
    expect(useViewer.getState().hidden.liver).toBe(true);
    expect(screen.getByText('2 of 3 shown')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Hide all' }));
    expect(screen.getByText('0 of 3 shown')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Show all' }));
    expect(screen.getByText('3 of 3 shown')).toBeInTheDocument();
  });

  it('selects a structure, then sets its opacity and isolates it', () => {
    render(<StructureList />);
    fireEvent.click(screen.getByRole('button', { name: 'liver' }));
    expect(useViewer.getState().selected).toBe('liver');
    const row = screen.getByRole('button', { name: 'liver' }).closest('li')!;
    fireEvent.change(within(row).getByLabelText('Opacity'), { target: { value: '0.3' } });
    expect(useViewer.getState().opacity.liver).toBe(0.3);
    fireEvent.click(within(row).getByRole('button', { name: 'Isolate' }));
    expect(useViewer.getState().hidden).toEqual({ liver: false, kidney_left: true, vertebrae_L1: true });
  });

  it('highlights a structure picked in 3D', () => {
    render(<StructureList />);
    act(() => useViewer.getState().select('kidney_left'));
    expect(screen.getByRole('button', { name: 'kidney left' })).toHaveAttribute('aria-pressed', 'true');
    expect(screen.getByRole('button', { name: 'kidney left' }).closest('li')).toHaveAttribute('aria-current', 'true');
  });

  it('shows or hides a whole system', () => {
    render(<StructureList />);
    fireEvent.click(screen.getByRole('button', { name: 'Hide all organs' }));
    expect(useViewer.getState().hidden).toMatchObject({ liver: true, kidney_left: true });
    expect(useViewer.getState().hidden.vertebrae_L1).toBeFalsy();
  });
});
