"""The options of a volume job, defined once: the manifest's ``options``, the CLI flags and the
engine's ``SegmentOptions`` all come from the fields of ``ProcessOptions`` below.

Each field carries its default, its allowed values and its help; ``ProcessOptions.from_mapping``
validates a manifest's options and the CLI's flags alike (``invalid_options`` on a bad value).
The API's request model (layers/shared/.../models.py ``TotalsegRequest``) restates the fields
it exposes; tests/unit/engine/test_options_contract.py holds the two to the same defaults and
allowed values.

Naming: the *job task* is what the manifest's ``task`` says (``totalseg``, ``mesh``,
``classify``; see ``oculus.tasks``); the *TotalSegmentator task* (``total``, ``total_mr``, ...)
is ``totalseg_task`` here. Manifests that still send it as ``options.task`` are accepted.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .segment.base import SegmentOptions

ENGINE_CHOICES = ("auto", "totalsegmentator", "threshold")
DEVICE_CHOICES = ("gpu", "cpu")
REDUCTION_RANGE = (0, 99)

# which CLI command offers an option: "segment" options only make sense when segmenting
SEGMENT, MESH = "segment", "mesh"


def _option(default: Any, help: str, *, kind: type, applies: tuple[str, ...] = (SEGMENT,),
            choices: tuple[str, ...] | None = None, bounds: tuple[int, int] | None = None,
            old_names: tuple[str, ...] = (), cli_default: Any = dataclasses.MISSING) -> Any:
    return field(default=default, metadata={
        "help": help, "kind": kind, "applies": applies, "choices": choices, "bounds": bounds,
        "old_names": old_names, "cli_default": default if cli_default is dataclasses.MISSING else cli_default,
    })


@dataclass(frozen=True)
class ProcessOptions:
    """Everything a ``totalseg`` or ``mesh`` job may ask for."""

    engine: str = _option("auto", "segmentation engine; auto = TotalSegmentator when its weights "
                          "are installed, else the threshold fallback", kind=str, choices=ENGINE_CHOICES)
    totalseg_task: str = _option("total", "TotalSegmentator task (total, total_mr, ...); for mesh: "
                                 "whose class names apply", kind=str, applies=(SEGMENT, MESH),
                                 old_names=("task",))
    fast: bool = _option(False, "TotalSegmentator 3 mm fast model", kind=bool)
    fastest: bool = _option(False, "TotalSegmentator 6 mm model", kind=bool)
    roi_subset: tuple[str, ...] | None = _option(None, "only these structures", kind=tuple)
    # a laptop rarely has a GPU: the CLI defaults to the CPU, a job to the GPU it runs on
    device: str = _option("gpu", "where TotalSegmentator runs", kind=str, choices=DEVICE_CHOICES,
                          cli_default="cpu")
    reduction_percent: int | None = _option(
        None, "triangles removed by decimation, 0-99 (default: the engine's tolerance-based "
        "decimation)", kind=int, applies=(SEGMENT, MESH), bounds=REDUCTION_RANGE)
    smoothing: bool = _option(True, "smooth the voxel surface", kind=bool, applies=(SEGMENT, MESH))
    stl: bool = _option(False, "also write one STL per structure", kind=bool, applies=(SEGMENT, MESH))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> ProcessOptions:
        """Validated options from a manifest's ``options`` (or the CLI's flags); unknown keys
        are ignored, missing ones take their default."""
        values = dict(values or {})
        chosen = {}
        for spec in dataclasses.fields(cls):
            for name in (spec.name, *spec.metadata["old_names"]):
                if name in values:
                    chosen[spec.name] = check(spec, values[name])
                    break
        return cls(**chosen)

    def segment_options(self) -> SegmentOptions:
        return SegmentOptions(
            task=self.totalseg_task, fast=self.fast, fastest=self.fastest,
            roi_subset=self.roi_subset, device=self.device,
        )


def option_fields() -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(ProcessOptions)


def check(spec: dataclasses.Field, value: Any) -> Any:
    """One option's value, validated; ``InputError(invalid_options)`` naming the option."""
    meta, name = spec.metadata, spec.name
    if value is None and spec.default is None:
        return None
    kind = meta["kind"]
    if kind is bool:
        if not isinstance(value, bool):
            raise _invalid(f"{name} must be true or false")
        return value
    if kind is int:
        low, high = meta["bounds"]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise _invalid(f"{name} must be an integer from {low} to {high}")
        return value
    if kind is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(n, str) and n for n in value):
            raise _invalid(f"{name} must be a list of structure names")
        return tuple(value) or None  # an empty list asks for no subset
    if not isinstance(value, str) or not value:
        raise _invalid(f"{name} must be a non-empty string")
    if meta["choices"] and value not in meta["choices"]:
        raise _invalid(f"{name} must be one of {', '.join(meta['choices'])}, not {value!r}")
    return value


def _invalid(message: str) -> InputError:
    return InputError(message, code="invalid_options")


# --- a classify job ------------------------------------------------------------------------------

#: A classifier version key (``oculus.classify.registry``); the API's ``ClassifyRequest.modelVersion``
#: restates it (tests/unit/engine/test_options_contract.py holds the two equal).
MODEL_VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"


@dataclass(frozen=True)
class ClassifyOptions:
    """What a ``classify`` job may ask for: the manifest's ``options.modelVersion`` (the CLI's
    ``--model-version``); None = the served default version."""

    model_version: str | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> ClassifyOptions:
        value = dict(values or {}).get("modelVersion")
        if value is None:
            return cls()
        if not isinstance(value, str) or not re.match(MODEL_VERSION_PATTERN, value):
            raise _invalid("modelVersion must be a model version key such as v2")
        return cls(model_version=value)


# --- the command line ----------------------------------------------------------------------------

def add_cli_flags(parser: argparse.ArgumentParser, command: str) -> None:
    """The flags of ``command`` ("segment" for ``oculus process``, "mesh" for ``oculus mesh``)."""
    for spec in option_fields():
        meta = spec.metadata
        if command not in meta["applies"]:
            continue
        flag = "--" + spec.name.replace("_", "-")
        default = meta["cli_default"]
        if meta["kind"] is bool:
            if default:  # on by default: the flag turns it off
                parser.add_argument(f"--no-{spec.name.replace('_', '-')}", dest=spec.name, action="store_false",
                                    help=f"do not {meta['help']}")
            else:
                parser.add_argument(flag, dest=spec.name, action="store_true", help=meta["help"])
            continue
        flags = [flag] + ["--" + old.replace("_", "-") for old in meta["old_names"]]
        kwargs: dict[str, Any] = {"dest": spec.name, "default": default, "help": meta["help"]}
        if meta["kind"] is tuple:
            kwargs.update(nargs="+", metavar="NAME")
        else:
            kwargs["type"] = _cli_type(spec)
        if meta["choices"]:
            kwargs["choices"] = meta["choices"]
        parser.add_argument(*flags, **kwargs)


def _cli_type(spec: dataclasses.Field):
    def convert(text: str) -> Any:
        value: Any = text
        if spec.metadata["kind"] is int:
            try:
                value = int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        try:
            return check(spec, value)
        except InputError as exc:  # argparse turns it into a usage error (exit 2)
            raise argparse.ArgumentTypeError(exc.message) from None

    convert.__name__ = spec.name
    return convert


def cli_options(args: argparse.Namespace) -> dict[str, Any]:
    """A parsed ``oculus process``/``oculus mesh`` command line as manifest-style options (the
    flags a command lacks take their CLI default)."""
    return {spec.name: getattr(args, spec.name, spec.metadata["cli_default"]) for spec in option_fields()}
