import { screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { ClassifyResult, Job } from '../api/types';
import { json } from '../test/helpers';
import { renderWithServices } from '../test/render';
import { ClassificationView, accuracyOf, verdictOf } from './ClassificationView';

const glioma: ClassifyResult = {
  is_tumor: true,
  predicted_class: 'glioma',
  confidence: 0.873,
  probabilities: { glioma: 0.873, meningioma: 0.08, no_tumor: 0.027, pituitary: 0.02 },
  recommendation: 'Refer for specialist review.',
  inconclusive: false,
  model: { name: 'oculus-brain-tumor', version: 'v2' },
  verdict: 'tumor',
  reason: null,
  top2: [
    { class: 'glioma', probability: 0.873 },
    { class: 'meningioma', probability: 0.08 },
  ],
};

const job: Job = {
  jobId: 'c1',
  status: 'completed',
  task: 'classify',
  kind: 'image',
  input: { filename: 'Tr-gl_0010.jpg', size: 20000 },
  files: [{ name: 'prediction.json' }, { name: 'input.jpg' }],
  result: glioma,
};

const modelInfo = {
  default: 'v2',
  versions: ['v1', 'v2'],
  abTest: { candidate: 'v1', share: 10 },
  models: [
    { name: 'oculus-brain-tumor', version: 'v1', validation: { accuracy: 0.976 } },
    { name: 'oculus-brain-tumor', version: 'v2', validation: { accuracy: 0.99 }, final_test: { accuracy: 0.912 } },
  ],
};

function show(result: Partial<ClassifyResult>) {
  return renderWithServices(<ClassificationView job={{ ...job, result: { ...glioma, ...result } as Job['result'] }} />, (url) =>
    url.endsWith('/model-info') ? json(modelInfo) : json({}, 404),
  );
}

describe('ClassificationView', () => {
  it('shows a tumour verdict, bars, recommendation, the version that answered, its accuracy and the research notice', async () => {
    renderWithServices(<ClassificationView job={job} />, (url) =>
      url.endsWith('/model-info') ? json(modelInfo) : url.includes('redirect=false') ? json({ url: 'http://s3/input.jpg' }) : new Response(new Uint8Array([0xff, 0xd8, 0xff]), { status: 200 }),
    );
    expect(screen.getByTestId('research-notice')).toHaveTextContent('Research use only — not a diagnosis');
    expect(screen.getByTestId('verdict')).toHaveTextContent('Glioma');
    expect(screen.getByTestId('verdict')).toHaveTextContent('87.3 %');
    expect(screen.getByRole('meter', { name: 'Glioma probability' })).toHaveAttribute('aria-valuenow', '87');
    expect(screen.getByRole('meter', { name: 'No tumour probability' })).toHaveAttribute('aria-valuenow', '3');
    expect(screen.getByText('Refer for specialist review.')).toBeInTheDocument();
    expect(screen.getByTestId('model-version')).toHaveTextContent('v2');
    await waitFor(() => expect(screen.getByTestId('model-info')).toHaveTextContent('measured accuracy 91.2 % on its final test split'));
    await waitFor(() => expect(screen.getByAltText(/Tr-gl_0010.jpg/)).toBeInTheDocument());
  });

  it('never rounds a probability to certainty', () => {
    show({ confidence: 0.9998, top2: [{ class: 'glioma', probability: 0.9998 }, { class: 'meningioma', probability: 0.0001 }] });
    expect(screen.getByTestId('verdict')).toHaveTextContent('Glioma > 99.9 %');
    expect(screen.getByTestId('verdict')).not.toHaveTextContent('100.0 %');
  });

  it('says "No tumour" only for the verdict no_tumor', () => {
    show({ verdict: 'no_tumor', predicted_class: 'no_tumor', is_tumor: false, confidence: 0.991 });
    expect(screen.getByTestId('verdict')).toHaveTextContent('No tumour 99.1 %');
    expect(screen.queryByText(/needs review/)).toBeNull();
  });

  it('shows a low-confidence "no tumour" as uncertain, with the top two classes', () => {
    show({
      verdict: 'needs_review',
      predicted_class: 'no_tumor',
      is_tumor: false,
      confidence: 0.658,
      inconclusive: true,
      probabilities: { glioma: 0.01, meningioma: 0.32, no_tumor: 0.658, pituitary: 0.012 },
      top2: [
        { class: 'no_tumor', probability: 0.658 },
        { class: 'meningioma', probability: 0.32 },
      ],
      reason: 'Below the calibrated no-tumour threshold.',
    });
    expect(screen.getByTestId('verdict')).toHaveTextContent('Uncertain — needs review');
    expect(screen.getByTestId('verdict')).not.toHaveTextContent('No tumour');
    expect(screen.getByTestId('top-two')).toHaveTextContent('Most likely No tumour (65.8 %) or Meningioma (32.0 %)');
    expect(screen.getByText('Below the calibrated no-tumour threshold.')).toBeInTheDocument();
  });

  it('shows an inconclusive answer with its reason and no class probabilities', () => {
    show({ verdict: 'inconclusive', inconclusive: true, reason: 'the image is not a brain MRI slice (colour photo)' });
    expect(screen.getByTestId('verdict')).toHaveTextContent('Inconclusive — the image is not a brain MRI slice (colour photo)');
    expect(screen.queryByRole('meter')).toBeNull();
    expect(screen.queryByText(/Glioma/)).toBeNull();
  });

  it('says when a version other than the default answered', async () => {
    show({ model: { name: 'oculus-brain-tumor', version: 'v1' } });
    await waitFor(() => expect(screen.getByTestId('model-info')).toHaveTextContent('version v1 (not the default, v2)'));
    expect(screen.getByTestId('model-info')).toHaveTextContent('measured accuracy 97.6 % on its validation split');
  });

  it('never reads "No tumour" from an answer made before verdicts existed', () => {
    const old = { ...glioma, verdict: undefined, top2: undefined, predicted_class: 'no_tumor' as const, confidence: 0.95 };
    expect(verdictOf(old)).toBe('needs_review');
    expect(verdictOf({ ...glioma, verdict: undefined, inconclusive: true })).toBe('needs_review');
    expect(verdictOf({ ...glioma, verdict: undefined })).toBe('tumor');
  });

  it('reads accuracy from the usual model-card shapes', () => {
    expect(accuracyOf({ metrics: { accuracy: 0.9 } })).toEqual({ value: 0.9, split: 'a held-out test set' });
    expect(accuracyOf({ accuracy: 0.8 })?.value).toBe(0.8);
    expect(accuracyOf({ models: [{ metrics: { accuracy: 0.7 } }] } as never)?.value).toBe(0.7);
    expect(accuracyOf(modelInfo, 'v3')).toBeNull();
    expect(accuracyOf({})).toBeNull();
  });
});
