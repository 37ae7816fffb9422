"""Unit tests of the backend's shared layer: no AWS, no network."""

from __future__ import annotations

import sys
from pathlib import Path

LAYER = Path(__file__).resolve().parents[3] / "layers" / "shared" / "python"
if str(LAYER) not in sys.path:
    sys.path.insert(0, str(LAYER))
