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
