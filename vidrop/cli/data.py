"""`vidrop data synth | copies | manifest`: the embedded synthetic videos, copy-detection
queries, and vidrop manifests from benchmarks' own label files."""

from __future__ import annotations

import argparse

from vidrop.cli.common import UserError, command, group, out_file, out_folder, results
from vidrop.progress import ProgressBar

# what each benchmark's reader needs (--format NAME)
NEEDS = {
    "kinetics": ("csv", "root"),
    "ssv2": ("labels", "split_file", "root"),
    "ucf101": ("split_file", "labels", "root"),
    "hmdb51": ("split_file", "root"),
    "folders": ("root",),
}


def cmd_synth(args: argparse.Namespace) -> None:
    from vidrop.data.synth import SynthSpec, make_dataset

    try:
        spec = SynthSpec.of_family(
            args.family, videos=args.videos, seed=args.seed, size=args.size, frames=args.frames
        )
        spec.check()
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    out = out_folder(args.out)
    with ProgressBar(args.videos, "synth data", unit="video") as bar:
        paths = make_dataset(out, spec, progress=lambda done, total: bar.update(done - bar.done))
    results.print(f"wrote {args.videos} videos; manifests: {paths['train']} {paths['val']}")


def cmd_copies(args: argparse.Namespace) -> None:
    from vidrop.data.copies import make_copies
    from vidrop.data.manifest import read_manifest

    out = out_folder(args.out)
    distractors = read_manifest(args.distractors) if args.distractors else None
    made = make_copies(read_manifest(args.data), out, args.seed, None, distractors)
    lost = len(made.skipped)
    listed = f"; {lost} unreadable videos skipped, listed in {out / 'skipped.txt'}"
    results.print(f"{made.written} copies -> {made.queries}" + (listed if lost else ""))


def cmd_manifest(args: argparse.Namespace) -> None:
    from vidrop.data import benchmarks as b

    missing = [f"--{n.replace('_', '-')}" for n in NEEDS[args.format] if not getattr(args, n)]
    if missing:
        raise UserError(f"--format {args.format} needs {' '.join(missing)}")
    out_file(args.out_file)
    readers = {
        "kinetics": lambda: b.read_kinetics(args.csv, args.root),
        "ssv2": lambda: b.read_ssv2(args.labels, args.split_file, args.root, args.allow_missing),
        "ucf101": lambda: b.read_ucf101(
            args.split_file, args.labels, args.root, args.allow_missing
        ),
        "hmdb51": lambda: b.read_hmdb51(
            args.split_file, args.root, args.split, args.subset, args.allow_missing
        ),
        "folders": lambda: b.read_folders(args.root),
    }
    m = readers[args.format]()
    out = b.write_manifest(m, args.out_file)
    results.print(f"{len(m)} videos, {len(m.class_names)} classes -> {out}")


def register(sub: argparse._SubParsersAction) -> None:
    data = group(sub, "data", "datasets: synthetic videos, copies, manifests")
    s = command(data, "synth", "write the embedded synthetic dataset (mp4 + manifests)", cmd_synth)
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--videos", type=int, default=720, help="videos, every class alike")
    s.add_argument("--seed", type=int, default=0, help="seed of the scenes")
    s.add_argument("--size", type=int, default=64, help="frame side, pixels (even)")
    s.add_argument("--frames", type=int, default=32, help="frames per video")
    s.add_argument(
        "--family",
        default="shapes",
        choices=["shapes", "glyphs"],
        help="shapes: the demo's (shapes rising, falling, spinning, pulsing over photos); glyphs: "
        "other shapes orbiting, zigzagging, growing, shaking over textures",
    )
    cp = command(data, "copies", "edited copies of videos: copy-detection queries", cmd_copies)
    cp.add_argument("--data", required=True, help="manifest of the originals (the database)")
    cp.add_argument("--out", required=True, help="output folder (videos/, queries.csv)")
    cp.add_argument("--distractors", help="manifest of videos NOT in the database to copy too")
    cp.add_argument("--seed", type=int, default=0, help="seed of the edits")
    mf = command(data, "manifest", "a vidrop CSV from a benchmark's own label files", cmd_manifest)
    mf.add_argument("--format", required=True, choices=sorted(NEEDS), help="the benchmark")
    mf.add_argument("--root", help="folder of the videos")
    mf.add_argument("--csv", help="kinetics: the split's CSV (label,youtube_id,time_start,...)")
    mf.add_argument(
        "--split-file",
        help="ssv2: train.json/validation.json; ucf101: "
        "trainlist01.txt/testlist01.txt; hmdb51: the folder of *_test_splitN.txt",
    )
    mf.add_argument("--labels", help="ssv2: labels.json; ucf101: classInd.txt")
    mf.add_argument("--split", type=int, default=1, help="hmdb51: split 1, 2 or 3")
    mf.add_argument("--subset", default="train", choices=["train", "test"], help="hmdb51")
    mf.add_argument("--allow-missing", action="store_true", help="leave out missing videos")
    mf.add_argument("--out-file", required=True, help="the CSV to write (path,label)")
