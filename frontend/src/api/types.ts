// Wire types of the Oculus HTTP API (DESIGN.md "HTTP API"). Keep every field name here.
// Checked against docs/openapi.yaml (generated from the backend's declared responses) by
// tests/unit/backend/test_api_types.py: a field the API sends that is missing here fails it.
// Every answer also carries `ok` (true, or false with `error`), which the client does not read.

export type JobStatus = 'uploading' | 'uploaded' | 'queued' | 'processing' | 'completed' | 'failed' | 'deleted';
export type JobKind = 'volume' | 'image';
export type JobTask = 'totalseg' | 'classify';

export interface ApiFieldError {
  field: string;
  message: string;
  type: string | null;
}

export interface ApiErrorBody {
  code: string;
  message: string;
  /** With a 422: each offending field of the request. */
  fields?: ApiFieldError[];
}

export interface JobFile {
  name: string;
  size?: number;
  contentType?: string;
  /** A running job's early-published files only: a short-lived presigned GET. */
  url?: string;
}

export interface EngineInfo {
  name: string;
  version?: string;
  task?: string;
  degraded?: boolean;
  note?: string | null;
  /** Set when the engine chose the task for the scan's modality (e.g. MR: total -> total_mr). */
  modality?: string | null;
  routedFrom?: string | null;
}

export interface TotalsegResult {
  structures?: number;
  structureNames?: string[];
  triangles?: number;
  coordinateSystem?: string;
  warnings?: string[];
  engine?: EngineInfo;
}

export type TumorClass = 'glioma' | 'meningioma' | 'no_tumor' | 'pituitary';

/** tumor / no_tumor: a confident answer; needs_review: "Uncertain — needs review" (low confidence, or a
 * "no tumour" below the model's calibrated no-tumour threshold); inconclusive: not a brain MRI slice. */
export type Verdict = 'tumor' | 'no_tumor' | 'needs_review' | 'inconclusive';

export interface ClassProbability {
  class: TumorClass;
  probability: number;
}

export interface ModelVersionRef {
  name: string;
  /** The model version key that answered (GET /model-info lists them), e.g. v1, v2. */
  version: string;
}

export interface ClassifyResult {
  is_tumor: boolean;
  predicted_class: TumorClass;
  confidence: number;
  probabilities: Record<TumorClass, number>;
  recommendation: string;
  /** verdict is needs_review or inconclusive (kept for answers from before verdicts). */
  inconclusive: boolean;
  model: ModelVersionRef;
  /** Absent on answers from before verdicts existed. */
  verdict?: Verdict;
  /** Why the answer needs review or is inconclusive (for the user). */
  reason?: string | null;
  /** The two most likely classes, calibrated, most likely first. */
  top2?: ClassProbability[];
  engine?: EngineInfo;
}

export interface JobInput {
  filename?: string;
  size?: number;
  format?: string | null;
}

export interface Job {
  jobId: string;
  status: JobStatus;
  kind?: JobKind;
  task?: JobTask | null;
  stage?: string | null;
  progress?: number | null;
  input?: JobInput;
  options?: Record<string, unknown>;
  result?: (TotalsegResult & Partial<ClassifyResult>) | null;
  engine?: EngineInfo | null;
  files?: JobFile[];
  error?: ApiErrorBody | null;
  createdAt?: string;
  updatedAt?: string;
}

export interface JobList {
  jobs: Job[];
  nextCursor: string | null;
}

export interface SinglePutUpload {
  method: 'PUT';
  url: string;
  expiresIn?: number;
  headers?: Record<string, string>;
}

/** A multipart upload as the API offers it (upload.ts normalizes it to MultipartUpload). */
export interface MultipartUploadOffer {
  method: 'multipart';
  expiresIn: number;
  uploadId: string;
  partSize: number;
  parts: { partNumber: number; url: string }[];
}

/** A small file sent inline (base64) is stored at once: nothing left to upload. */
export interface InlineUpload {
  method: 'inline';
}

export interface MultipartUpload {
  multipart: {
    uploadId: string;
    partSize: number;
    parts: { partNumber: number; url: string }[];
  };
}

export interface CreateUploadResponse {
  jobId: string;
  job?: Job;
  upload: SinglePutUpload | MultipartUpload;
}

export interface JobAnswer {
  job: Job;
}

export interface ProcessAccepted {
  jobId: string;
  status: 'queued';
  task: JobTask;
}

export interface FileUrl {
  url: string;
  expiresIn: number;
}

export interface JobDeleted {
  jobId: string;
  deleted: true;
}

/** The TotalSegmentator tasks offered (GET /capabilities says which have weights). */
export type TotalsegTask = 'total' | 'total_mr';

export interface TotalsegOptions {
  /** The engine runs total_mr for an MR scan sent with total (recorded as engine.routedFrom). */
  totalseg_task?: TotalsegTask;
  device: 'gpu' | 'cpu';
  fast: boolean;
  /** The API also takes null (the engine's tolerance-based decimation); this app always sends 0..99. */
  /** null: the engine's default (decimate within a geometric tolerance) */
  reduction_percent: number | null;
  roi_subset?: string[] | null;
  stl: boolean;
  smoothing?: boolean;
  engine?: 'auto' | 'totalsegmentator' | 'threshold';
}

export interface DependencyCheck {
  ok: boolean;
  error?: string;
  status?: string;
  instances?: number;
  scaledToZero?: boolean;
  healthy?: boolean;
}

/** GET /healthz: 200 when every check passed, 503 with the same body when one failed. */
export interface Health {
  ok: boolean;
  version: string;
  checks: { table: DependencyCheck; bucket: DependencyCheck; endpoint: DependencyCheck };
}

export interface ModelAbTest {
  /** The version tried on a share of classify jobs (chosen by job id). */
  candidate: string;
  /** Percent of classify jobs it answers. */
  share: number;
}

/** GET /model-info: every served classifier version with its card, the default, any A/B test. */
export interface ModelInfoResponse {
  default: string;
  versions: string[];
  abTest: ModelAbTest | null;
  models: ModelInfo[];
}

export interface ModelInfo {
  name?: string;
  version?: string;
  classes?: string[];
  input?: unknown;
  metrics?: { accuracy?: number; [k: string]: unknown };
  accuracy?: number;
  [k: string]: unknown;
}

export interface TotalSegmentatorTask {
  name: TotalsegTask | string;
  /** The normal (1.5 mm) model is installed. */
  weights: boolean;
  /** The fast (3 mm) model is installed. */
  fastWeights: boolean;
  /** What roi_subset may name. */
  structures: string[];
}

export interface TotalSegmentatorCapabilities {
  installed: boolean;
  /** Installed, and some offered task has its weights. */
  usable: boolean;
  version: string | null;
  tasks: TotalSegmentatorTask[];
}

/** GET /capabilities: what the engine published at its last start (known: false before it has). */
export interface Capabilities {
  known: boolean;
  publishedAt: string | null;
  engineVersion: string | null;
  default: 'totalsegmentator' | 'threshold';
  totalsegmentator: TotalSegmentatorCapabilities;
}

/** One structure of report.json, as the engine writes it (docs/outputs.md). */
export interface ReportStructure {
  label: number;
  name: string;
  system?: string;
  voxelCount?: number;
  volumeMl?: number;
  meanIntensity?: number | null;
  stdIntensity?: number | null;
  minIntensity?: number | null;
  maxIntensity?: number | null;
  medianIntensity?: number | null;
  p5Intensity?: number | null;
  p95Intensity?: number | null;
  /** The structure reaches the scan's edge: its volume is a lower bound. */
  touchesBorder?: boolean;
  surfaceAreaMm2?: number;
  /** sRGB: {hex: '#rrggbb', rgb: [0-255 x3]} (a bare hex string or array is accepted too). */
  color?: { hex?: string; rgb?: number[] } | number[] | string;
  centroidMm?: number[];
  bboxMinMm?: number[];
  bboxMaxMm?: number[];
  triangles?: number;
}

export interface SceneReport {
  structures: ReportStructure[];
  engine?: EngineInfo;
  coordinateSystem?: string;
  coordinate_system?: string;
  [k: string]: unknown;
}

export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'deleted'];
export const isTerminal = (s: JobStatus) => TERMINAL_STATUSES.includes(s);
