"""vidrop: self-supervised video Vision Transformers with the ViDROP method."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load_backbone(path: Any, *args: Any, **kwargs: Any) -> Any:
    """Any backbone vidrop reads (vidrop, HF VideoMAE, VideoMAE, V-JEPA); see
    `vidrop.models.load.load_backbone`. Imported lazily so `import vidrop` stays light."""
    from vidrop.models.load import load_backbone as _load

    return _load(path, *args, **kwargs)
