// A classification answer: the image, the predicted class, probabilities, recommendation, model.
import { useEffect, useState } from 'react';
import { classificationOf } from '../api/client';
import type { Job, ModelInfo, TumorClass } from '../api/types';
import { useJobs } from '../state/jobs';
import { useServices } from '../state/services';

export const CLASS_LABELS: Record<TumorClass, string> = {
  glioma: 'Glioma',
  meningioma: 'Meningioma',
  no_tumor: 'No tumour',
  pituitary: 'Pituitary tumour',
};

export function accuracyOf(info: ModelInfo | null): number | null {
  if (!info) return null;
  const m = info as ModelInfo & { metrics?: { accuracy?: number; test_accuracy?: number }; models?: ModelInfo[] };
  const v = m.metrics?.accuracy ?? m.metrics?.test_accuracy ?? m.accuracy ?? m.models?.[0]?.metrics?.accuracy;
  return typeof v === 'number' ? v : null;
}

export function ClassificationView({ job }: { job: Job }) {
  const { api } = useServices();
  const result = classificationOf(job);
  const localImage = useJobs((s) => s.localImages[job.jobId]);
  const [image, setImage] = useState<string | null>(localImage ?? null);
  const [info, setInfo] = useState<ModelInfo | null>(null);

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
  const accuracy = accuracyOf(info);
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
            <h2 className="text-xs uppercase tracking-wide text-slate-400">Predicted class</h2>
            <p className="text-2xl font-semibold text-slate-50" data-testid="predicted-class">
              {CLASS_LABELS[result.predicted_class] ?? result.predicted_class}{' '}
              <span className="text-base font-normal text-slate-400">{(result.confidence * 100).toFixed(1)} %</span>
            </p>
            {result.inconclusive && <p className="text-sm text-amber-300">Inconclusive: no class is clearly more likely than the others.</p>}
          </div>
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
          <div>
            <h2 className="text-xs uppercase tracking-wide text-slate-400">Recommendation</h2>
            <p className="text-sm">{result.recommendation}</p>
          </div>
          <div className="text-xs text-slate-400" data-testid="model-info">
            Model: {result.model?.name} {result.model?.version}
            {accuracy !== null && <> · measured accuracy {(accuracy * (accuracy <= 1 ? 100 : 1)).toFixed(1)} % on a held-out test set</>}
          </div>
        </div>
      </div>
    </div>
  );
}
