"""Shared fixtures: a small synthetic dataset (real mp4 files) and a CPU-sized config."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from vidrop.compress.encode import encode_dataset
from vidrop.compress.fit import fit_codebook
from vidrop.config import Config, load_config
from vidrop.data.synth import SynthSpec, make_dataset


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """24 videos of 16 frames at 64x64 (12 classes), written once per test session."""
    out = tmp_path_factory.mktemp("synth")
    return make_dataset(out, SynthSpec(videos=24, seed=0, size=64, frames=16))


def tiny_config(train_csv: str | Path, *overrides: str) -> Config:
    """The tiny recipe made smaller still: 4 videos per step, small heads, no workers."""
    return load_config(
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


# A small codebook and code store built once from the synthetic test videos.
PATCH, K = 8, 64


@pytest.fixture(scope="session")
def codebook_path(synth_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("codebook") / "cb"
    fit_codebook(
        synth_data["train"], out, patch=PATCH, clusters=K, samples=4000, short_side=0,
        iterations=8, device="cpu", workers=0,
    )  # fmt: skip
    return out


@pytest.fixture(scope="session")
def code_store(synth_data, codebook_path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("store") / "store"
    encode_dataset(synth_data["train"], codebook_path, out, videos_per_shard=5, workers=0)
    return out


@pytest.fixture(scope="session")
def eval_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """32 videos of 16 frames, 4 classes (6 train + 2 val each), with object masks."""
    out = tmp_path_factory.mktemp("synth_eval")
    spec = SynthSpec(
        videos=32,
        seed=1,
        size=64,
        frames=16,
        shapes=["triangle", "square"],
        motions=["rise", "spin"],
    )
    return make_dataset(out, spec)
