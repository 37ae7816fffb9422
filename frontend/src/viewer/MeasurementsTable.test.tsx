import { fireEvent, render, screen, within } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import type { ReportStructure } from '../api/types';
import { MeasurementsTable, sortStructures } from './MeasurementsTable';

const STRUCTURES: ReportStructure[] = [
  { label: 1, name: 'liver', volumeMl: 1523.4, surfaceAreaMm2: 61234.5, meanIntensity: 101.2, stdIntensity: 20.4, medianIntensity: 102, p5Intensity: 68, p95Intensity: 133, minIntensity: -12, maxIntensity: 190, touchesBorder: false },
  { label: 2, name: 'kidney_left', volumeMl: 150.25, surfaceAreaMm2: 15000, meanIntensity: 160, touchesBorder: true },
  { label: 3, name: 'aorta', volumeMl: 90, surfaceAreaMm2: 9000, meanIntensity: null, touchesBorder: false },
];

const names = () => screen.getAllByTestId('measurement-row').map((row) => within(row).getByRole('rowheader').textContent);

describe('sortStructures', () => {
  it('sorts numbers and names both ways, structures without the value last', () => {
    expect(sortStructures(STRUCTURES, { key: 'volumeMl', descending: false }).map((s) => s.label)).toEqual([3, 2, 1]);
    expect(sortStructures(STRUCTURES, { key: 'meanIntensity', descending: true }).map((s) => s.label)).toEqual([2, 1, 3]);
    expect(sortStructures(STRUCTURES, { key: 'meanIntensity', descending: false }).map((s) => s.label)).toEqual([1, 2, 3]);
    expect(sortStructures(STRUCTURES, { key: 'name', descending: false }).map((s) => s.name)).toEqual(['aorta', 'kidney_left', 'liver']);
    expect(sortStructures(STRUCTURES, { key: 'touchesBorder', descending: true })[0].name).toBe('kidney_left');
  });
});

describe('MeasurementsTable', () => {
  it('starts with the largest volume first and re-sorts on a header click', () => {
    render(<MeasurementsTable structures={STRUCTURES} intensityUnit="HU" />);
    expect(names()).toEqual(['liver', 'kidney left', 'aorta']);
    const volume = screen.getByRole('columnheader', { name: /Volume/ });
    expect(volume).toHaveAttribute('aria-sort', 'descending');
    fireEvent.click(within(volume).getByRole('button'));
    expect(volume).toHaveAttribute('aria-sort', 'ascending');
    expect(names()).toEqual(['aorta', 'kidney left', 'liver']);
    fireEvent.click(within(screen.getByRole('columnheader', { name: /Structure/ })).getByRole('button'));
    expect(names()).toEqual(['aorta', 'kidney left', 'liver']);
    expect(volume).toHaveAttribute('aria-sort', 'none');
  });

  it('shows the statistics, the surface in cm² and a missing value as a dash', () => {
    render(<MeasurementsTable structures={STRUCTURES} intensityUnit="HU" />);
    const liver = screen.getAllByTestId('measurement-row')[0];
    const cells = within(liver).getAllByRole('cell').map((c) => c.textContent);
    expect(cells).toEqual(['1523.40', '612.3', '101.2', '20.4', '102.0', '68.0', '133.0', '-12', '190', 'no']);
    expect(within(screen.getAllByTestId('measurement-row')[2]).getAllByRole('cell')[2].textContent).toBe('—');
    expect(screen.getByText(/Intensities in HU/)).toBeInTheDocument();
  });

  it('flags a structure cut by the scan edge and says its volume is a lower bound', () => {
    render(<MeasurementsTable structures={STRUCTURES} intensityUnit="HU" />);
    const kidney = screen.getAllByTestId('measurement-row')[1];
    expect(within(kidney).getByLabelText(/volume is a lower bound/)).toHaveTextContent('⚠ cut');
    expect(screen.getByText(/1 structure touches the scan's edge/)).toBeInTheDocument();
  });

  it('says when intensities were not measured, and selects a structure from its name', () => {
    const onSelect = vi.fn();
    render(<MeasurementsTable structures={[{ label: 4, name: 'spleen', volumeMl: 200, meanIntensity: null }]} intensityUnit={null} onSelect={onSelect} />);
    expect(screen.getByText(/Intensities not measured/)).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'spleen' }));
    expect(onSelect).toHaveBeenCalledWith('spleen');
  });
});
