"""What several test modules share (tests import from here, never from each other): small
configs and inputs, and a loader for the scripts/ files."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from types import ModuleType

import torch

from vidrop.config import Config, HeadConfig, ViewsConfig
from vidrop.methods import resolve_config
from vidrop.models.vit import ViTConfig
from vidrop.tokens import TokenGrid, TokenPlan, drop_tokens, sample_masks
from vidrop.tokens.plan import scored_tokens

# the code store built from the synthetic test videos (conftest's code_store fixture)
PATCH, K = 8, 64
# the store tests' small views
VIEWS = ViewsConfig(
    large_clips=2,
    large_frames=8,
    large_size=32,
    small_clips=3,
    small_frames=4,
    small_size=16,
    frame_stride=2,
    large_scale=(0.2, 1.0),
    small_scale=(0.05, 0.3),
)
# a meta-arch small enough for exact comparisons on the CPU
MODEL = ViTConfig(arch="vit_t", depth=2, num_frames=8, img_size=32, patch_size=8, drop_path=0.1)
HEAD = HeadConfig(prototypes=32, patch_prototypes=16, hidden_dim=64, bottleneck_dim=16)


def tiny_config(train_csv: str | Path, *overrides: str) -> Config:
    """The tiny recipe made smaller still: 4 videos per step, small heads, no workers."""
    return resolve_config(
        "tiny",
        [
            f"data.train={train_csv}",
            "data.num_workers=0",
            "optim.batch_size=4",
            "optim.epochs=10",
            "optim.warmup_epochs=1",
            "optim.warmup_teacher_temp_epochs=1",
            "head.prototypes=64",
            "head.patch_prototypes=64",
            "head.hidden_dim=128",
            "head.bottleneck_dim=32",
            "views.small_clips=2",
            "train.log_every=1",
            *overrides,
        ],
    )


def plan_of(
    keep: torch.Tensor, masks: torch.Tensor, ibot_tokens: str = "masked", grid_tokens: int = 64
) -> TokenPlan:
    """The token plan of these kept indices and masks (what the loader would hand the step);
    MODEL's large clip has 64 tokens."""
    scored = scored_tokens(masks, ibot_tokens)
    return TokenPlan(keep, masks, scored, scored.nonzero(as_tuple=True), grid_tokens)


def inputs(b: int = 3, seed: int = 0, mask_prob: float = 1.0):
    """Views of `b` videos for MODEL (2 large 8x32 clips, 4 small 4x16), 75% of the large clips'
    tokens dropped, masks over the kept ones: (large, small, keep, masks)."""
    g = torch.Generator().manual_seed(seed)
    large = torch.randn(b, 2, 3, 8, 32, 32, generator=g)
    small = torch.randn(b, 4, 3, 4, 16, 16, generator=g)
    keep = drop_tokens("random", 2 * b, TokenGrid(4, 4, 4), 0.75, g)
    masks = sample_masks(2 * b, keep.shape[1], mask_prob, (0.2, 0.5), g)
    return large, small, keep, masks


def load_script(name: str) -> ModuleType:
    """scripts/NAME.py as a module (scripts/ is not a package; its `__main__` part is not run)."""
    path = Path(__file__).parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def manifest_rows(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def tiny_export(folder: Path) -> Path:
    """A 1-block ViT-T export on the demo's 8x64x64 clips (what vidrop.load_backbone reads)."""
    from vidrop.models.export import save_backbone
    from vidrop.models.vit import VideoViT

    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=8, img_size=64))
    return save_backbone(folder, model, {"eval": {"frames": 8, "size": 64, "stride": 2}})
