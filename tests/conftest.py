"""Shared fixtures: a small synthetic dataset (real mp4 files) and a CPU-sized config."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import PATCH, K
from vidrop.compress.encode import encode_dataset
from vidrop.compress.fit import fit_codebook
from vidrop.data.synth import SynthSpec, make_dataset


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """24 videos of 16 frames at 64x64 (12 classes), written once per test session."""
    out = tmp_path_factory.mktemp("synth")
    return make_dataset(out, SynthSpec(videos=24, seed=0, size=64, frames=16))


# A small codebook and code store built once from the synthetic test videos.


@pytest.fixture(scope="session")
def codebook_path(synth_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("codebook") / "cb"
    fit_codebook(
        synth_data["train"],
        out,
        patch=PATCH,
        clusters=K,
        samples=4000,
        short_side=0,
        iterations=8,
        device="cpu",
        workers=0,
    )
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
