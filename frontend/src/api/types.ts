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
}

export interface EngineInfo {
  name: string;
  version?: string;
  task?: string;
  degraded?: boolean;
  note?: string | null;
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

export interface ClassifyResult {
  is_tumor: boolean;
  predicted_class: TumorClass;
  confidence: number;
  probabilities: Record<TumorClass, number>;
  recommendation: string;
  inconclusive: boolean;
  model: { name: string; version: string };
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

export interface TotalsegOptions {
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

/** GET /model-info: the served classifier cards. */
export interface ModelInfoResponse {
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
