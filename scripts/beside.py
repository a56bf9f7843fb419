"""Score other backbones beside a synthetic comparison's, through its own suite, with paired gains.

    python scripts/beside.py COMPARE_DIR \\
        --backbone videomae=RUN/export raw_pixels=RAW/export vidrop_mean=RUN/export@mean \\
        --pair raw_pixels,videomae --pair vidrop_mean,videomae --out OUT \\
        [--cached videomae=RUN/eval-encoder-KEY.json raw_pixels=RAW/beside.json]

For explanation experiments (issue 33): a peer trained one way differently (e.g. VideoMAE with
`decoder.norm_pix_loss=false`), or a backbone read by another feature (`@mean`: kNN, linear and
low-shot read the mean patch token instead of the CLS). The data, test clips and suite are the
comparison's (`vidrop compare --synth FAMILY` renders them once under COMPARE_DIR; this renders
nothing new), so a backbone of the comparison given here scores what its eval.json says, which
checks the setting (it scores on the CPU, as the comparisons here were). Writes OUT/eval.json
and OUT/eval.md (`eval all`'s layout; `pairs`: A over B
with 95% paired bootstrap intervals over the val videos).

`--cached NAME=FILE`: NAME's result is read from FILE when it is there (a comparison's own
RUN/eval-PART-KEY.json, whose KEY names its suite), else evaluated and kept there, so a rerun
scores only what is new.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vidrop.demo import demo_data, synth_folder
from vidrop.eval.features import views_of_backbone
from vidrop.eval.suite import SuiteBackbone, run_suite
from vidrop.machine import command_line
from vidrop.models.load import load_backbone


def backbone(spec: str, clips: int) -> tuple[str, SuiteBackbone]:
    """NAME=PATH[@FEATURE] -> (NAME, the backbone read by FEATURE, default its CLS)."""
    name, _, rest = spec.partition("=")
    path, _, feature = rest.partition("@")
    if not (name and path):
        raise SystemExit(f"--backbone {spec!r}: write NAME=PATH or NAME=PATH@mean")
    model, meta = load_backbone(path, with_meta=True)
    return name, SuiteBackbone(model, views_of_backbone(meta, model, clips), feature or "cls")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("compare", help="a `vidrop compare --synth` output folder")
    p.add_argument("--family", default="shapes", help="its --synth family (default shapes)")
    p.add_argument("--size", type=int, default=64, help="its rendered frame side (tiny: 64)")
    p.add_argument("--backbone", nargs="+", required=True, help="NAME=PATH[@mean]")
    p.add_argument("--pair", action="append", default=[], help="A,B: A's gains over B")
    p.add_argument("--cached", nargs="*", default=[], help="NAME=FILE: result kept in FILE")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    folder = Path(a.compare) / synth_folder(a.family, a.size)
    report = Path(a.compare) / "compare.json"
    given = json.loads(report.read_text())["data"] if report.exists() else {}
    if not (folder / "synth.json").exists():
        raise SystemExit(f"{folder}: no rendered data (check --family, --size)")
    data = demo_data(folder, family=a.family, size=a.size)
    same = [
        Path(given.get(k, "")).resolve() == Path(v).resolve()
        for k, v in (("train", data.train), ("val", data.val))
    ]
    if given and not all(same):
        raise SystemExit(f"{report} was scored on other videos: {given}")
    backbones = dict(backbone(s, data.clips) for s in a.backbone)
    pairs = tuple(tuple(x.split(",")) for x in a.pair)
    for pair in pairs:
        if len(pair) != 2 or not set(pair) <= set(backbones):
            raise SystemExit(f"--pair {','.join(pair)}: two names among {sorted(backbones)}")
    cache = {n: Path(f) for n, _, f in (c.partition("=") for c in a.cached) if f}
    if len(cache) != len(a.cached):
        raise SystemExit("--cached takes NAME=FILE")
    if not set(cache) <= set(backbones):
        raise SystemExit(f"--cached {sorted(set(cache) - set(backbones))}: not a --backbone")
    run_suite(
        backbones,
        data.train,
        data.val,
        data.suite,
        a.out,
        command_line(),
        pairs=pairs,  # type: ignore[arg-type]
        cache=cache,
        device="cpu",  # as the comparisons here were scored; a cached cell must match its setting
    )


if __name__ == "__main__":
    main()
