// A classification answer: the image, the verdict, probabilities, recommendation, the model version.
import { useEffect, useState } from 'react';
import { classificationOf } from '../api/client';
import type { ClassifyResult, Job, ModelInfo, ModelInfoResponse, TumorClass, Verdict } from '../api/types';
import { useJobs } from '../state/jobs';
import { useServices } from '../state/services';

export const CLASS_LABELS: Record<TumorClass, string> = {
  glioma: 'Glioma',
  meningioma: 'Meningioma',
  no_tumor: 'No tumour',
  pituitary: 'Pituitary tumour',
};

// one decimal, never rounded up to a certain 100 % or down to 0 % (a model's 99.96 % is not certainty)
const pct = (p: number) => (p >= 0.9995 ? '> 99.9 %' : p < 0.0005 ? '< 0.1 %' : `${(p * 100).toFixed(1)} %`);

/**
 * The answer's verdict. An answer from before verdicts existed never reads "No tumour": its
 * no-tumour call was not held to a calibrated threshold, so it needs review like an inconclusive one.
 */
export function verdictOf(result: ClassifyResult): Verdict {
  if (result.verdict) return result.verdict;
  return result.inconclusive || result.predicted_class === 'no_tumor' ? 'needs_review' : 'tumor';
}

/** The two most likely classes: the engine's top2, else from the probabilities. */
export function topTwo(result: ClassifyResult): { class: TumorClass; probability: number }[] {
  if (result.top2?.length) return result.top2.slice(0, 2);
  return (Object.entries(result.probabilities) as [TumorClass, number][])
    .sort((a, b) => b[1] - a[1])
    .slice(0, 2)
    .map(([c, p]) => ({ class: c, probability: p }));
}

type Measured = { accuracy?: number; metrics?: { accuracy?: number; test_accuracy?: number }; final_test?: { accuracy?: number }; validation?: { accuracy?: number } };

/** The measured accuracy of the model version that answered (its card), and on which split. */
export function accuracyOf(info: ModelInfoResponse | ModelInfo | null, version?: string): { value: number; split: string } | null {
  if (!info) return null;
  const models = (info as Partial<ModelInfoResponse>).models;
  const card = (models ? (models.find((m) => m.version === version) ?? (version ? undefined : models[0])) : info) as Measured | undefined;
  if (!card) return null;
  const found: [number | undefined, string][] = [
    [card.final_test?.accuracy, 'its final test split'],
    [card.metrics?.accuracy ?? card.metrics?.test_accuracy ?? card.accuracy, 'a held-out test set'],
    [card.validation?.accuracy, 'its validation split'],
  ];
  const [value, split] = found.find(([v]) => typeof v === 'number') ?? [undefined, ''];
  return typeof value === 'number' ? { value: value <= 1 ? value : value / 100, split } : null;
}

function VerdictLine({ result }: { result: ClassifyResult }) {
  const verdict = verdictOf(result);
  if (verdict === 'inconclusive') {
    return (
      <p className="text-2xl font-semibold text-amber-300" data-testid="verdict">
        Inconclusive — {result.reason ?? 'this does not look like a brain MRI slice'}
      </p>
    );
  }
  if (verdict === 'needs_review') {
    const [first, second] = topTwo(result);
    return (
      <>
        <p className="text-2xl font-semibold text-amber-300" data-testid="verdict">
          Uncertain — needs review
        </p>
        <p className="text-sm text-slate-300" data-testid="top-two">
          Most likely {CLASS_LABELS[first.class] ?? first.class} ({pct(first.probability)})
          {second && <> or {CLASS_LABELS[second.class] ?? second.class} ({pct(second.probability)})</>}
        </p>
        {result.reason && <p className="text-sm text-amber-200">{result.reason}</p>}
      </>
    );
  }
  return (
    <p className="text-2xl font-semibold text-slate-50" data-testid="verdict">
      {CLASS_LABELS[result.predicted_class] ?? result.predicted_class} <span className="text-base font-normal text-slate-400">{pct(result.confidence)}</span>
    </p>
  );
}

export function ClassificationView({ job }: { job: Job }) {
  const { api } = useServices();
  const result = classificationOf(job);
  const localImage = useJobs((s) => s.localImages[job.jobId]);
  const [image, setImage] = useState<string | null>(localImage ?? null);
  const [info, setInfo] = useState<ModelInfoResponse | null>(null);

  useEffect(() => {
    api.modelInfo().then(setInfo, () => setInfo(null));
  }, [api]);

  // Only result files are served: an image among them (else the one uploaded in this tab) is shown.
  const imageFile = job.files?.find((f) => /\.(png|jpe?g)$/i.test(f.name))?.name;
  useEffect(() => {
    if (localImage || !imageFile) return;
    let url: string | null = null;
    api.fileBlob(job.jobId, imageFile).then(
      (b) => setImage((url = URL.createObjectURL(b))),
      () => setImage(null),
    );
    return () => void (url && URL.revokeObjectURL(url));
  }, [api, job.jobId, imageFile, localImage]);

  if (!result) return <p className="text-sm text-slate-400">This job has no classification result.</p>;
  const accuracy = accuracyOf(info, result.model?.version);
  const verdict = verdictOf(result);
  const order = (Object.keys(CLASS_LABELS) as TumorClass[]).sort((a, b) => (result.probabilities[b] ?? 0) - (result.probabilities[a] ?? 0));

  return (
    <div className="mx-auto flex max-w-4xl flex-col gap-4">
      <div role="note" className="rounded border border-amber-600 bg-amber-950/40 px-3 py-2 text-sm text-amber-100" data-testid="research-notice">
        <strong>Research use only — not a diagnosis.</strong> This model has not been cleared for clinical use; a qualified clinician must review every image.
      </div>
      <div className="flex flex-wrap gap-6">
        <figure className="w-64 shrink-0">
          {image ? <img src={image} alt={`Uploaded image ${job.input?.filename ?? ''}`} className="w-64 rounded border border-slate-700" /> : <div className="flex h-64 w-64 items-center justify-center rounded border border-slate-700 text-xs text-slate-500">Image not available</div>}
          <figcaption className="mt-1 truncate text-xs text-slate-400">{job.input?.filename}</figcaption>
        </figure>
        <div className="min-w-72 flex-1 space-y-4">
          <div>
            <h2 className="text-xs uppercase tracking-wide text-slate-400">Answer</h2>
            <VerdictLine result={result} />
          </div>
          {/* not a brain MRI slice: its class probabilities mean nothing */}
          {verdict !== 'inconclusive' && (
            <div>
              <h2 className="mb-1 text-xs uppercase tracking-wide text-slate-400">Probabilities</h2>
              <ul className="space-y-1.5">
                {order.map((c) => {
                  const p = result.probabilities[c] ?? 0;
                  return (
                    <li key={c} className="grid grid-cols-[8rem_1fr_3.5rem] items-center gap-2 text-sm">
                      <span>{CLASS_LABELS[c]}</span>
                      <div className="h-2.5 rounded bg-slate-800" role="meter" aria-label={`${CLASS_LABELS[c]} probability`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(p * 100)}>
                        <div className={`h-2.5 rounded ${c === result.predicted_class ? 'bg-sky-500' : 'bg-slate-500'}`} style={{ width: `${(p * 100).toFixed(1)}%` }} />
                      </div>
                      <span className="text-right tabular-nums text-slate-300">{(p * 100).toFixed(1)} %</span>
                    </li>
                  );
                })}
              </ul>
            </div>
          )}
          <div>
            <h2 className="text-xs uppercase tracking-wide text-slate-400">Recommendation</h2>
            <p className="text-sm">{result.recommendation}</p>
          </div>
          <div className="text-xs text-slate-400" data-testid="model-info">
            Model: {result.model?.name} · version <span data-testid="model-version">{result.model?.version ?? 'unknown'}</span>
            {info?.default && result.model?.version && result.model.version !== info.default && <> (not the default, {info.default})</>}
            {accuracy !== null && <> · measured accuracy {pct(accuracy.value)} on {accuracy.split}</>}
          </div>
        </div>
      </div>
    </div>
  );
}
