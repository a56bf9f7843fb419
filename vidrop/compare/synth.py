"""`vidrop compare --synth`: the demo's embedded data and protocol, so a comparison on it reads
like the demo (the same 540 training and 720 val videos, 3 test clips, label propagation and copy
detection on the first 180 val videos)."""

from __future__ import annotations

from pathlib import Path

from vidrop.data.copies import make_copies
from vidrop.data.manifest import Manifest, read_manifest
from vidrop.data.synth import SynthSpec, make_dataset
from vidrop.eval.settings import PropagationConfig, SuiteConfig
from vidrop.progress import ProgressBar


def synth_setup(folder: Path, seed: int = 0) -> tuple[str, str, SuiteConfig, int]:
    """(train csv, val csv, the demo's suite, its clips per video), written once into `folder`."""
    from vidrop.demo import DEMO_CLIPS, DEMO_SEQUENCES, DEMO_SHIFTS, DEMO_VAL_FRACTION, DEMO_VIDEOS

    spec = SynthSpec(videos=DEMO_VIDEOS, seed=seed, val_fraction=DEMO_VAL_FRACTION)
    with ProgressBar(spec.videos, "synth data", unit="video") as bar:
        data = make_dataset(folder, spec, progress=lambda d, t: bar.update(d - bar.done))
    val = read_manifest(data["val"])
    copies = make_copies(
        Manifest(val.source, val.entries[:DEMO_SEQUENCES]), folder / "copies", seed
    )
    suite = SuiteConfig(
        propagate=data["val"],
        propagate_limit=DEMO_SEQUENCES,
        propagation=PropagationConfig(shifts=DEMO_SHIFTS),
        copies=str(copies.queries),
    )
    return data["train"], data["val"], suite, DEMO_CLIPS
