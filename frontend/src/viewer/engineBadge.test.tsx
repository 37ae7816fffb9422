import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { EngineBadge, labelMapSummary } from './SegmentationView';

describe('engine box for an uploaded label map', () => {
  const labels = { name: 'labels', version: '0.1.0', task: 'total', degraded: false, note: 'Label map detected: meshed the label map you uploaded.' };

  it('says the upload was a label map and how many structures it meshes', () => {
    render(<EngineBadge engine={labels} structures={41} />);
    expect(screen.getByTestId('label-map-summary')).toHaveTextContent('Label map detected: meshing its 41 structures.');
    expect(labelMapSummary(1)).toBe('Label map detected: meshing its 1 structure.');
  });

  it('says nothing of label maps for a segmentation engine', () => {
    render(<EngineBadge engine={{ ...labels, name: 'totalsegmentator', note: '' }} structures={117} />);
    expect(screen.queryByTestId('label-map-summary')).toBeNull();
  });
});

describe('engine box for an MR scan', () => {
  it('says the MR task was used when the engine routed the scan to it', () => {
    const routed = { name: 'totalsegmentator', version: '2.18.0', task: 'total_mr', degraded: false, note: '', modality: 'MR', routedFrom: 'total' };
    render(<EngineBadge engine={routed} structures={50} />);
    expect(screen.getByTestId('task-routing')).toHaveTextContent('MR scan: using total_mr');
  });

  it('says nothing of routing for a CT run as asked', () => {
    render(<EngineBadge engine={{ name: 'totalsegmentator', version: '2.18.0', task: 'total', degraded: false }} structures={117} />);
    expect(screen.queryByTestId('task-routing')).toBeNull();
  });
});
