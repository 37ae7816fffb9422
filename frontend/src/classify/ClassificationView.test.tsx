import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { Job } from '../api/types';
import { json } from '../test/helpers';
import { renderWithServices } from '../test/render';
import { ClassificationView, accuracyOf } from './ClassificationView';

const job: Job = {
  jobId: 'c1',
  status: 'completed',
  task: 'classify',
  kind: 'image',
  input: { filename: 'Tr-gl_0010.jpg', size: 20000 },
  files: [{ name: 'prediction.json' }, { name: 'input.jpg' }],
  result: {
    is_tumor: true,
    predicted_class: 'glioma',
    confidence: 0.873,
    probabilities: { glioma: 0.873, meningioma: 0.08, no_tumor: 0.027, pituitary: 0.02 },
    recommendation: 'Refer for specialist review.',
    inconclusive: false,
    model: { name: 'efficientnet-b0', version: '1.0' },
  },
};

describe('ClassificationView', () => {
  it('shows the class, bars, recommendation, model accuracy and the research notice', async () => {
    renderWithServices(<ClassificationView job={job} />, (url) =>
      url.endsWith('/model-info') ? json({ name: 'efficientnet-b0', metrics: { accuracy: 0.912 } }) : url.includes('redirect=false') ? json({ url: 'http://s3/input.jpg' }) : new Response(new Uint8Array([0xff, 0xd8, 0xff]), { status: 200 }),
    );
    expect(screen.getByTestId('research-notice')).toHaveTextContent('Research use only — not a diagnosis');
    expect(screen.getByTestId('predicted-class')).toHaveTextContent('Glioma');
    expect(screen.getByTestId('predicted-class')).toHaveTextContent('87.3 %');
    expect(screen.getByRole('meter', { name: 'Glioma probability' })).toHaveAttribute('aria-valuenow', '87');
    expect(screen.getByRole('meter', { name: 'No tumour probability' })).toHaveAttribute('aria-valuenow', '3');
    expect(screen.getByText('Refer for specialist review.')).toBeInTheDocument();
    await waitFor(() => expect(screen.getByTestId('model-info')).toHaveTextContent('measured accuracy 91.2 %'));
    await waitFor(() => expect(screen.getByAltText(/Tr-gl_0010.jpg/)).toBeInTheDocument());
  });

  it('flags an inconclusive answer', () => {
    renderWithServices(<ClassificationView job={{ ...job, result: { ...job.result!, inconclusive: true } as Job['result'] }} />, () => json({}, 404));
    expect(screen.getByText(/Inconclusive/)).toBeInTheDocument();
  });

  it('reads accuracy from the usual model-card shapes', () => {
    expect(accuracyOf({ metrics: { accuracy: 0.9 } })).toBe(0.9);
    expect(accuracyOf({ accuracy: 0.8 })).toBe(0.8);
    expect(accuracyOf({ models: [{ metrics: { accuracy: 0.7 } }] } as never)).toBe(0.7);
    expect(accuracyOf({})).toBeNull();
  });
});
