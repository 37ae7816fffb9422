"""The ``totalsegmentator`` engine: the installed TotalSegmentator package, run in-process.

Weights are read from ``TOTALSEG_WEIGHTS_PATH`` (or ``TOTALSEG_HOME_DIR/nnunet/results``) and
never downloaded: the container has no internet, so missing weights are a typed error, and
TotalSegmentator's usage statistics are switched off in its ``config.json`` before every run.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EngineUnavailableError, InputError, SegmentationError
from ..progress import Progress, no_progress
from ..volume import Volume
from .base import EngineInfo, Segmentation, SegmentOptions

ENGINE_NAME = "totalsegmentator"

# TotalSegmentator keeps global state (env vars, torch thread count, config.json): one run at a
# time per process.
_ENGINE_LOCK = threading.Lock()

# Crop models that ``python_api.totalsegmentator`` uses for ``roi_subset``; they are literals
# inside that function (not exposed), mirrored here so the weights check covers them too.
_ROI_CROP_MODEL_CT = (298, "nnUNetTrainer_4000epochs_NoMirroring")
_ROI_CROP_MODEL_MR = (852, "nnUNetTrainer_2000epochs_NoMirroring")
_CHECKPOINT = "checkpoint_final.pth"


def totalsegmentator_version() -> str:
    try:
        return importlib.metadata.version("TotalSegmentator")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - broken install
        return "unknown"


def task_class_names(task: str) -> dict[int, str]:
    """Label id -> structure name for ``task``, from TotalSegmentator's own class map."""
    from totalsegmentator.map_to_binary import class_map

    if task not in class_map:
        raise InputError(f"Unknown TotalSegmentator task '{task}'.", code="unknown_task")
    return {int(k): str(v) for k, v in class_map[task].items()}


def weights_dir() -> Path:
    """Where TotalSegmentator looks for its nnU-Net result folders (its own rule)."""
    from totalsegmentator.config import get_weights_dir

    return Path(get_weights_dir())


@dataclass(frozen=True)
class ModelFolder:
    """One nnU-Net model TotalSegmentator needs: dataset id and its trained-model folder."""

    task_id: int
    path: Path  # .../DatasetXXX_name/Trainer__Plans__config
    folds: tuple[int, ...]

    @property
    def trainer(self) -> str:
        return self.path.name.split("__")[0]

    def checkpoints(self) -> list[Path]:
        return [self.path / f"fold_{f}" / _CHECKPOINT for f in self.folds]

    def is_complete(self) -> bool:
        files = [self.path / "plans.json", self.path / "dataset.json", *self.checkpoints()]
        return all(f.is_file() for f in files)


def _task_config(task: str, fast: bool, fastest: bool) -> dict:
    from totalsegmentator.map_tasks_config import TASK_CONFIGS
    from totalsegmentator.python_api import get_task_config

    if task not in TASK_CONFIGS:
        raise InputError(f"Unknown TotalSegmentator task '{task}'.", code="unknown_task")
    if TASK_CONFIGS[task].get("commercial"):
        # get_task_config would sys.exit() without a licence; say it plainly instead.
        raise EngineUnavailableError(
            f"TotalSegmentator task '{task}' needs a licence and is not offered here.",
            code="license_required",
        )
    try:
        return get_task_config(task, fast=fast, fastest=fastest, quiet=True, plans="nnUNetPlans")
    except ValueError as exc:  # e.g. "task X does not work with option --fast"
        raise InputError(str(exc), code="invalid_option") from exc


def _model_folder(task_id: int, trainer: str, plans: str, model: str, folds) -> ModelFolder:
    from totalsegmentator.map_tasks_config import TASK_ID_WEIGHTS_CONFIGS

    info = TASK_ID_WEIGHTS_CONFIGS[task_id]
    dataset = Path(info.get("rel_path") or "") / info["foldername"]
    path = weights_dir() / dataset / f"{trainer}__{plans}__{model}"
    return ModelFolder(task_id=task_id, path=path, folds=tuple(int(f) for f in folds))


def required_model_folders(
    task: str, fast: bool = False, fastest: bool = False, roi_subset=None
) -> list[ModelFolder]:
    """The nnU-Net folders TotalSegmentator will open for this run (main model(s) + crop model)."""
    cfg = _task_config(task, fast, fastest)
    ids = cfg["task_id"] if isinstance(cfg["task_id"], list) else [cfg["task_id"]]
    folders = [
        _model_folder(tid, cfg["trainer"], cfg["plans"], cfg["model"], cfg["folds"]) for tid in ids
    ]
    needs_crop = cfg.get("crop") is not None or roi_subset or cfg.get("cascade")
    if needs_crop and cfg.get("crop_model") is None:
        crop_id, crop_trainer = _ROI_CROP_MODEL_MR if task.endswith("_mr") else _ROI_CROP_MODEL_CT
        folders.append(_model_folder(crop_id, crop_trainer, "nnUNetPlans", "3d_fullres", [0]))
    return folders


def missing_model_folders(task: str, fast=False, fastest=False, roi_subset=None) -> list[ModelFolder]:
    return [m for m in required_model_folders(task, fast, fastest, roi_subset) if not m.is_complete()]


def weights_available(task: str = "total", fast: bool = False, fastest: bool = False, roi_subset=None) -> bool:
    """True when every nnU-Net folder TotalSegmentator needs for this task is installed."""
    return not missing_model_folders(task, fast, fastest, roi_subset)


def weights_missing_error(task: str, fast=False, fastest=False, roi_subset=None) -> EngineUnavailableError:
    missing = missing_model_folders(task, fast, fastest, roi_subset)
    download_name = task + ("_fast" if fast else "_fastest" if fastest else "")
    where = ", ".join(str(m.path) for m in missing) or str(weights_dir())
    return EngineUnavailableError(
        f"TotalSegmentator weights for task '{download_name}' are not installed here: expected "
        f"{where}. Put them there with `totalseg_download_weights -t {download_name}` (needs "
        "internet, done at image build time) or point TOTALSEG_WEIGHTS_PATH / TOTALSEG_HOME_DIR "
        "at a folder that has them.",
        code="weights_missing",
    )


def _module_defining(package_dir: Path, package: str, class_name: str) -> str | None:
    pattern = re.compile(rf"^class {re.escape(class_name)}\(", re.MULTILINE)
    for source in sorted(package_dir.rglob("*.py")):
        if pattern.search(source.read_text(encoding="utf-8", errors="replace")):
            rel = source.relative_to(package_dir).with_suffix("")
            return ".".join([package, *rel.parts])
    return None


def trainer_class(trainer_name: str):
    """The nnU-Net trainer class ``trainer_name``, registered with TotalSegmentator's trainer lookup.

    nnU-Net finds a trainer by importing every module under ``nnunetv2.training.nnUNetTrainer``;
    one of them (primus) imports timm -> torchvision, and PyPI's torchvision wheel is a CUDA build
    that cannot load beside the CPU torch. Importing only the module that defines the trainer
    keeps inference independent of torchvision.
    """
    import nnunetv2
    import totalsegmentator.nnunet as ts_nnunet  # installs TotalSegmentator's trainer lookup

    registry = ts_nnunet.custom_trainers
    if trainer_name not in registry:
        package_dir = Path(nnunetv2.__file__).parent / "training" / "nnUNetTrainer"
        module = _module_defining(package_dir, "nnunetv2.training.nnUNetTrainer", trainer_name)
        if module is None:
            raise EngineUnavailableError(
                f"nnU-Net trainer '{trainer_name}' is not in the installed nnunetv2.",
                code="weights_incompatible",
            )
        registry[trainer_name] = getattr(importlib.import_module(module), trainer_name)
    return registry[trainer_name]


def register_trainers(folders: list[ModelFolder]) -> None:
    for folder in folders:
        trainer_class(folder.trainer)


def ensure_usage_stats_off() -> Path:
    """Write ``send_usage_stats: false`` into TotalSegmentator's config.json (created if absent).

    TotalSegmentator posts usage statistics after each run unless this key is false; the
    container has no internet and patient workloads must not phone home.
    """
    from totalsegmentator.config import get_totalseg_dir, setup_totalseg

    home = Path(get_totalseg_dir())
    home.mkdir(parents=True, exist_ok=True)
    config_file = home / "config.json"
    config = setup_totalseg()  # creates the file with a random id if missing (offline)
    if config.get("send_usage_stats") is not False or not config.get("statistics_disclaimer_shown"):
        config["send_usage_stats"] = False
        config["statistics_disclaimer_shown"] = True
        config_file.write_text(json.dumps(config, indent=4))
    return config_file


def resolve_device(requested: str) -> tuple[str, list[str]]:
    """Map our device option to TotalSegmentator's, falling back to CPU (with a warning) without CUDA."""
    if requested == "cpu":
        return "cpu", []
    if requested in ("gpu", "cuda") or requested.startswith("gpu:"):
        import torch

        if torch.cuda.is_available():
            return ("gpu" if requested == "cuda" else requested), []
        return "cpu", ["No CUDA GPU is available here, so TotalSegmentator ran on the CPU (slower)."]
    raise InputError(f"Unknown device '{requested}': use 'gpu' or 'cpu'.", code="invalid_option")


def validated_roi_subset(options: SegmentOptions, names: dict[int, str]) -> list[str] | None:
    if not options.roi_subset:
        return None
    unknown = sorted(set(options.roi_subset) - set(names.values()))
    if unknown:
        raise InputError(
            f"roi_subset names not in TotalSegmentator task '{options.task}': {', '.join(unknown)}.",
            code="unknown_structure",
        )
    return list(options.roi_subset)


def labels_on_volume_grid(seg_img, volume: Volume) -> tuple[np.ndarray, list[str]]:
    """The label array on ``volume``'s own grid, resampled (nearest) only if TotalSegmentator moved it."""
    # oculus.nib first (nibabel without pydicom), whichever of the two a process meets first
    from ..nib import nib  # noqa: I001
    from nibabel.processing import resample_from_to

    same_grid = tuple(seg_img.shape[:3]) == volume.shape and np.allclose(
        seg_img.affine, volume.affine, atol=1e-3
    )
    if not same_grid:
        target = nib.Nifti1Image(np.zeros(volume.shape, np.uint8), volume.affine)
        seg_img = resample_from_to(seg_img, target, order=0)
        note = "TotalSegmentator returned a different voxel grid; its labels were resampled onto the input grid."
        return np.asarray(seg_img.dataobj).astype(np.uint16), [note]
    return np.asarray(seg_img.dataobj).astype(np.uint16), []


class TotalSegmentatorEngine:
    """Runs ``totalsegmentator.python_api.totalsegmentator`` (multilabel) on a Volume."""

    name = ENGINE_NAME

    def __init__(self, resampling_threads: int = 1, saving_threads: int = 2) -> None:
        self.resampling_threads = resampling_threads
        self.saving_threads = saving_threads

    def info(self, task: str) -> EngineInfo:
        return EngineInfo(name=ENGINE_NAME, version=totalsegmentator_version(), task=task)

    def segment(
        self, volume: Volume, options: SegmentOptions, progress: Progress = no_progress
    ) -> Segmentation:
        names = task_class_names(options.task)
        roi_subset = validated_roi_subset(options, names)
        folders = required_model_folders(options.task, options.fast, options.fastest, roi_subset)
        if not all(f.is_complete() for f in folders):
            raise weights_missing_error(options.task, options.fast, options.fastest, roi_subset)
        device, warnings = resolve_device(options.device)
        progress("segmenting", 0)
        with _ENGINE_LOCK:
            ensure_usage_stats_off()
            register_trainers(folders)
            seg_img = self._run(volume, options, roi_subset, device)
        labels, grid_notes = labels_on_volume_grid(seg_img, volume)
        progress("segmenting", 100)
        present = [int(v) for v in np.unique(labels) if v != 0]
        unknown = [v for v in present if v not in names]
        if unknown:
            raise SegmentationError(
                f"TotalSegmentator returned label ids {unknown} that task '{options.task}' does not define."
            )
        return Segmentation(
            labels=labels,
            affine=volume.affine.copy(),
            classes={v: names[v] for v in present},
            engine=self.info(options.task),
            warnings=[*warnings, *grid_notes],  # the loader's stay on the volume
        )

    def _run(self, volume: Volume, options: SegmentOptions, roi_subset, device: str):
        from totalsegmentator.python_api import totalsegmentator

        try:
            return totalsegmentator(
                volume.to_nifti(),
                None,
                ml=True,
                task=options.task,
                fast=options.fast,
                fastest=options.fastest,
                roi_subset=roi_subset,
                device=device,
                quiet=True,
                statistics=False,
                preview=False,
                skip_saving=True,
                nr_thr_resamp=self.resampling_threads,
                nr_thr_saving=self.saving_threads,
            )
        except SystemExit as exc:  # TotalSegmentator exits on some fatal conditions
            raise SegmentationError(f"TotalSegmentator stopped: exit code {exc.code}.") from None
        except (RuntimeError, ValueError, OSError, KeyError, AssertionError, TypeError) as exc:
            raise SegmentationError(f"TotalSegmentator failed: {type(exc).__name__}: {exc}") from exc


def weights_env_summary() -> dict[str, str | None]:
    """Where weights are looked up (for /ping and error messages)."""
    return {
        "TOTALSEG_HOME_DIR": os.environ.get("TOTALSEG_HOME_DIR"),
        "TOTALSEG_WEIGHTS_PATH": os.environ.get("TOTALSEG_WEIGHTS_PATH"),
        "weights_dir": str(weights_dir()),
    }
