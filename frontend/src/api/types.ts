// Wire types of the Oculus HTTP API (DESIGN.md "HTTP API"). Keep every field name here.

export type JobStatus = 'uploading' | 'uploaded' | 'queued' | 'processing' | 'completed' | 'failed' | 'deleted';
export type JobKind = 'volume' | 'image';
export type JobTask = 'totalseg' | 'classify';

export interface ApiErrorBody {
  code: string;
  message: string;
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

export interface Job {
  jobId: string;
  status: JobStatus;
  kind?: JobKind;
  task?: JobTask | null;
  stage?: string | null;
  progress?: number | null;
  input?: { filename?: string; size?: number; format?: string | null; key?: string };
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
  headers?: Record<string, string>;
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

export interface TotalsegOptions {
  device: 'gpu' | 'cpu';
  fast: boolean;
  reduction_percent: number;
  roi_subset?: string[] | null;
  stl: boolean;
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
