"""Progress reporting: a callable taking (stage, percent 0-100)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Progress(Protocol):
    def __call__(self, stage: str, percent: float) -> None: ...


#: Called with the file entries (name, size, contentType) of the files the 3D viewer opens, once
#: they are written, before the job's other files (``outputs.write_outputs``).
Viewable = Callable[[list[dict]], None]


def no_progress(stage: str, percent: float) -> None:
    """Progress sink that ignores everything."""


def scaled(progress: Progress, start: float, end: float) -> Callable[[str, float], None]:
    """Map a sub-task's 0-100 onto [start, end] of the parent's progress."""

    def report(stage: str, percent: float) -> None:
        progress(stage, start + (end - start) * max(0.0, min(100.0, percent)) / 100.0)

    return report
