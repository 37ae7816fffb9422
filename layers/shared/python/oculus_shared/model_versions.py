"""Which classifier version answers a classify job: the client's ``modelVersion``, else the A/B
candidate for its share of jobs, else the configured default.

The choice is made once per job, when it is queued, from the job id alone (a hash, not a random
draw), and stored in the job's options; a retry re-sends the same options, so it is answered by
the same version. The versions the engine serves come from its published index (the engine's
``models/brain_tumor/versions.json`` with each version's ``card.json`` beside it, copied to the
data bucket at deploy); when the index cannot be read the engine still refuses an unknown
version itself (``unknown_model_version``, the job fails with that code).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from .errors import Unprocessable

log = logging.getLogger(__name__)

#: the engine's version key (sagemaker/oculus/options.py MODEL_VERSION_PATTERN; the options
#: contract test holds the two equal)
MODEL_VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"
REQUESTED, CANDIDATE, DEFAULT = "requested", "candidate", "default"


@dataclass(frozen=True)
class VersionPolicy:
    """The deployment's A/B settings (template parameters ``ClassifierDefaultVersion``,
    ``ClassifierCandidateVersion``, ``ClassifierCandidateShare``)."""

    default: str = ""  # "": the engine's own default (its index)
    candidate: str = ""  # "": no A/B test
    candidate_share: int = 0  # percent of jobs, 0..100

    def describe(self) -> dict[str, Any] | None:
        """The A/B test as ``GET /model-info`` reports it, or None when none runs."""
        if not self.candidate or self.candidate_share <= 0:
            return None
        return {"candidate": self.candidate, "share": self.candidate_share}


def ab_percentile(job_id: str) -> float:
    """Where a job falls in 0..100 for the A/B split: the same job id, the same place."""
    return int(hashlib.sha256(job_id.encode()).hexdigest()[:8], 16) % 10000 / 100


@dataclass(frozen=True)
class VersionChoice:
    version: str | None  # None: the engine's default answers
    reason: str  # requested | candidate | default

    def options(self) -> dict[str, str]:
        """What the job records and the manifest carries to the engine."""
        return {"modelVersionChoice": self.reason, **({"modelVersion": self.version} if self.version else {})}


def choose_version(job_id: str, requested: str | None, policy: VersionPolicy,
                   index: dict[str, Any] | None) -> VersionChoice:
    """The version for one job. ``index`` is the engine's published ``{default, versions}``
    (None when unreadable: the choice is then not checked here, the engine checks it)."""
    served = index["versions"] if index else None
    if requested:
        if served is not None and requested not in served:
            raise Unprocessable(f"unknown model version {requested!r}; available: {', '.join(served)} "
                                f"(default {index['default']})", code="unknown_model_version")  # type: ignore[index]
        return VersionChoice(requested, REQUESTED)
    ab_test = policy.describe()
    if ab_test and served is not None and policy.candidate not in served:
        log.warning("A/B candidate version is not served; every job gets the default",
                    extra={"candidate": policy.candidate})
    elif ab_test and ab_percentile(job_id) < policy.candidate_share:
        return VersionChoice(policy.candidate, CANDIDATE)
    return VersionChoice(default_version(policy, index), DEFAULT)


def default_version(policy: VersionPolicy, index: dict[str, Any] | None) -> str | None:
    """The configured default when the engine serves it, else the engine's own default (None:
    the index is unreadable and nothing is configured; the engine's default answers)."""
    if index is None or policy.default in index["versions"]:
        return policy.default or None
    if policy.default:
        log.warning("configured default version is not served; the engine's default answers",
                    extra={"default": policy.default})
    return index["default"]


def parse_index(doc: Any) -> dict[str, Any] | None:
    """A published ``versions.json`` as ``{default, versions}``, or None when it is not one."""
    if not isinstance(doc, dict):
        return None
    versions, default = doc.get("versions"), doc.get("default")
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions) or default not in versions:
        return None
    return {"default": default, "versions": list(versions)}
