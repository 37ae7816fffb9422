"""Tiny nnU-Net v2 models in the exact layout TotalSegmentator loads, with a known answer.

The real weights are GitHub release downloads that CI cannot fetch. These stand-ins let the
real installed ``totalsegmentator`` + ``nnunetv2`` code path run end to end: TotalSegmentator's
own config decides the dataset id, trainer, plans and folds (via ``required_model_folders``),
nnU-Net's own trainer class builds the network, and its weights are set by hand so that it
labels each voxel by its intensity alone (``intensity_band_weights``). A convolution cannot
know where it is, so position comes from the test's scan: what lies on the patient's left
must come back labelled on the left.
"""

from __future__ import annotations

import json
from pathlib import Path

PLANS_NAME = "nnUNetPlans"
CONFIGURATION = "3d_fullres"
#: The plans' CTNormalization: clip HU to these percentiles, then (HU - mean) / std.
CT_CLIP_HU, CT_MEAN_HU, CT_STD_HU = (-1000.0, 1500.0), 50.0, 300.0
FEATURES = (4, 8)
#: Added to the normalised intensity so the feature stays positive through every LeakyReLU.
LIFT = 10.0


def tiny_plans(dataset_name: str, patch_size=(32, 32, 32), spacing=(3.0, 3.0, 3.0)) -> dict:
    """A minimal plans.json: a 2-stage PlainConvUNet with 4/8 features and no normalisation.

    Without instance norm every layer is a plain local function of the intensities, which is
    what lets ``intensity_band_weights`` fix the answer.
    """
    arch_kwargs = {
        "n_stages": 2,
        "features_per_stage": list(FEATURES),
        "conv_op": "torch.nn.modules.conv.Conv3d",
        "kernel_sizes": [[3, 3, 3], [3, 3, 3]],
        "strides": [[1, 1, 1], [2, 2, 2]],
        "n_conv_per_stage": [1, 1],
        "n_conv_per_stage_decoder": [1],
        "conv_bias": True,
        "norm_op": None,
        "norm_op_kwargs": None,
        "dropout_op": None,
        "dropout_op_kwargs": None,
        "nonlin": "torch.nn.LeakyReLU",
        "nonlin_kwargs": {"inplace": True},
    }
    resampling_kwargs = {"order_z": 0, "force_separate_z": None}
    return {
        "dataset_name": dataset_name,
        "plans_name": PLANS_NAME,
        "original_median_spacing_after_transp": list(spacing),
        "original_median_shape_after_transp": [64, 64, 64],
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "experiment_planner_used": "ExperimentPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {
            "0": {
                "max": 3000.0,
                "mean": CT_MEAN_HU,
                "median": 40.0,
                "min": -1024.0,
                "percentile_00_5": CT_CLIP_HU[0],
                "percentile_99_5": CT_CLIP_HU[1],
                "std": CT_STD_HU,
            }
        },
        "configurations": {
            CONFIGURATION: {
                "data_identifier": f"{PLANS_NAME}_{CONFIGURATION}",
                "preprocessor_name": "DefaultPreprocessor",
                "batch_size": 2,
                "patch_size": list(patch_size),
                "median_image_size_in_voxels": [64, 64, 64],
                "spacing": list(spacing),
                "normalization_schemes": ["CTNormalization"],
                "use_mask_for_norm": [False],
                "resampling_fn_data": "resample_data_or_seg_to_shape",
                "resampling_fn_seg": "resample_data_or_seg_to_shape",
                "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
                "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, **resampling_kwargs},
                "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, **resampling_kwargs},
                "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, **resampling_kwargs},
                "architecture": {
                    "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
                    "arch_kwargs": arch_kwargs,
                    "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
                },
                "batch_dice": True,
            }
        },
    }


def dataset_json(class_names: dict[int, str]) -> dict:
    return {
        "channel_names": {"0": "CT"},
        "labels": {"background": 0, **{name: int(i) for i, name in sorted(class_names.items())}},
        "numTraining": 1,
        "file_ending": ".nii.gz",
    }


def intensity_band_weights(network, bands: list[tuple[int, float]], gain: float = 4.0) -> None:
    """Make ``network`` label each voxel by its HU alone: ``bands`` is ``[(label, lowest HU), ...]``.

    Bands rise in HU; voxels below the first are background. The first encoder conv passes the
    normalised intensity ``x`` on as ``u = x + LIFT`` (channel 0, centre tap), the decoder conv
    copies that skip channel, every other weight is zero. The 1x1 segmentation layer then gives
    band k the logit ``gain * (k * u - sum of the first k thresholds)``: lines of rising slope
    whose upper envelope switches from band k-1 to band k exactly at band k's threshold.
    Labels not in ``bands`` get a logit far below background's (0) and never win.
    """
    import torch

    thresholds = [(hu - CT_MEAN_HU) / CT_STD_HU + LIFT for _, hu in bands]
    assert thresholds == sorted(thresholds) and all(CT_CLIP_HU[0] < hu < CT_CLIP_HU[1] for _, hu in bands)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.zero_()
        first = network.encoder.stages[0][0].convs[0].conv
        first.weight[0, 0, 1, 1, 1] = 1.0
        first.bias[0] = LIFT
        # decoder input = [upsampled bottleneck (FEATURES[0] channels), skip]: take skip channel 0
        network.decoder.stages[-1].convs[0].conv.weight[0, FEATURES[0], 1, 1, 1] = 1.0
        segmentation = network.decoder.seg_layers[-1]
        segmentation.bias.fill_(-200.0)  # background's logit is 0; fp16 sums must stay finite
        segmentation.bias[0] = 0.0
        for k, (label, _) in enumerate(bands, start=1):
            segmentation.weight[label, 0] = gain * k
            segmentation.bias[label] = -gain * sum(thresholds[:k])


def write_standin_model(
    model_folder: Path, trainer_name: str, folds, class_names: dict[int, str], bands: list[tuple[int, float]]
) -> None:
    """Write plans.json, dataset.json and fold_N/checkpoint_final.pth into ``model_folder``."""
    import torch
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    from oculus.segment.totalseg import trainer_class as find_trainer_class

    dataset_name = model_folder.parent.name
    plans = tiny_plans(dataset_name)
    ds = dataset_json(class_names)
    model_folder.mkdir(parents=True, exist_ok=True)
    (model_folder / "plans.json").write_text(json.dumps(plans, indent=2))
    (model_folder / "dataset.json").write_text(json.dumps(ds, indent=2))

    plans_manager = PlansManager(plans)
    configuration = plans_manager.get_configuration(CONFIGURATION)
    heads = plans_manager.get_label_manager(ds).num_segmentation_heads
    network = find_trainer_class(trainer_name).build_network_architecture(
        plans_manager, configuration, 1, heads, enable_deep_supervision=False
    )
    intensity_band_weights(network, bands)
    for fold in folds:
        fold_dir = model_folder / f"fold_{fold}"
        fold_dir.mkdir(exist_ok=True)
        torch.save(
            {
                "network_weights": network.state_dict(),
                "trainer_name": trainer_name,
                "init_args": {"configuration": CONFIGURATION},
                "inference_allowed_mirroring_axes": None,
            },
            fold_dir / "checkpoint_final.pth",
        )


def install_standin_weights(
    task: str, fast: bool, bands: list[tuple[str, float]], fastest: bool = False, roi_subset=None
) -> list[Path]:
    """Create stand-in models for every folder TotalSegmentator needs (under the current env vars).

    ``bands`` names the structures: ``[(structure name, lowest HU), ...]`` in rising HU order.
    """
    from oculus.segment.totalseg import required_model_folders, task_class_names

    # The roi_subset crop model of a task outputs that task's classes too.
    names = task_class_names(task)
    ids = {name: label for label, name in names.items()}
    label_bands = [(ids[name], hu) for name, hu in bands]
    written = []
    for model in required_model_folders(task, fast, fastest, roi_subset):
        write_standin_model(model.path, model.trainer, model.folds, names, label_bands)
        written.append(model.path)
    return written
