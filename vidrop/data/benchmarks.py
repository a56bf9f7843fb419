"""Readers for the benchmarks' own label files, each turned into a vidrop manifest (path, label).

Layouts (as the datasets ship; ROOT is where the videos are):
- Kinetics-400/600/700 CSV: label,youtube_id,time_start,time_end,split[,is_cc]; videos named
  {youtube_id}_{time_start:06d}_{time_end:06d}.mp4 in ROOT/, ROOT/{split}/ or ROOT/{split}/{label}/.
  Kinetics always has videos that were taken down: missing ones are counted and left out.
- Something-Something-v2: labels JSON {"template": "id"} and split JSON [{"id", "template", ...}];
  videos ROOT/{id}.webm. The label is the template with "[something]" kept, as in the labels file.
- UCF101: classInd.txt ("1 ApplyEyeMakeup") and trainlist0N.txt ("Class/v_x.avi 1") or
  testlist0N.txt ("Class/v_x.avi"); videos ROOT/Class/v_x.avi.
- HMDB51: split files {class}_test_split{N}.txt with lines "video.avi 1|2|0" (1 train, 2 test,
  0 unused); videos ROOT/{class}/video.avi.
- Folder per class: ROOT/{class}/*.{mp4,avi,webm,mkv,mov}.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from vidrop.atomic import atomic_path
from vidrop.data.manifest import (
    VIDEO_SUFFIXES,
    Entry,
    Manifest,
    ManifestError,
    read_class_folders,
)

log = logging.getLogger("vidrop")


def _keep_existing(entries: list[Entry], source: str, allow_missing: bool) -> Manifest:
    """Entries whose file exists; missing ones are an error, or a counted warning when allowed."""
    present = [e for e in entries if Path(e.path).is_file()]
    missing = len(entries) - len(present)
    if not entries:
        raise ManifestError(f"{source} lists no videos for this split")
    if missing and (not allow_missing or not present):
        raise ManifestError(
            f"{source}: {missing} of {len(entries)} videos are not under the root "
            f"(first: {next(e.path for e in entries if not Path(e.path).is_file())}); check --root"
            + ("" if present else " (none was found)")
        )
    if missing:
        log.warning("%s: %d of %d videos are missing and left out", source, missing, len(entries))
    return Manifest(source, present)


def read_kinetics(csv_path: str | Path, root: str | Path, allow_missing: bool = True) -> Manifest:
    root = Path(root)
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"label", "youtube_id", "time_start", "time_end"}
    if not rows or not need <= set(rows[0]):
        raise ManifestError(f"{csv_path}: a Kinetics CSV needs the columns {sorted(need)}")
    entries = []
    for r in rows:
        start, end = int(float(r["time_start"])), int(float(r["time_end"]))
        name = f"{r['youtube_id']}_{start:06d}_{end:06d}.mp4"
        split, label = r.get("split", ""), r["label"]
        folders = (root, root / split, root / split / label, root / label)
        path = next((d / name for d in folders if (d / name).is_file()), root / name)
        entries.append(Entry(str(path), label))
    return _keep_existing(entries, str(csv_path), allow_missing)


def read_ssv2(
    labels_json: str | Path, split_json: str | Path, root: str | Path, allow_missing: bool = False
) -> Manifest:
    ids = json.loads(Path(labels_json).read_text())
    items = json.loads(Path(split_json).read_text())
    entries = []
    for it in items:
        template = it.get("template", "").replace("[", "").replace("]", "")
        if template not in ids:
            raise ManifestError(
                f"{split_json}: video {it.get('id')} has template {template!r}, which is not in "
                f"{labels_json}; the test split has no labels (use validation.json)"
            )
        entries.append(Entry(str(Path(root) / f"{it['id']}.webm"), ids[template]))
    return _keep_existing(entries, str(split_json), allow_missing)


def read_ucf101(
    split_file: str | Path, class_ind: str | Path, root: str | Path, allow_missing: bool = False
) -> Manifest:
    names = {}
    for ln in Path(class_ind).read_text().split("\n"):
        if ln.strip():
            idx, name = ln.split()
            names[name] = str(int(idx) - 1)
    entries = []
    for ln in Path(split_file).read_text().split("\n"):
        if not ln.strip():
            continue
        rel = ln.split()[0]
        cls = rel.split("/")[0]
        if cls not in names:
            raise ManifestError(f"{split_file}: class {cls!r} is not in {class_ind}")
        entries.append(Entry(str(Path(root) / rel), names[cls]))
    return _keep_existing(entries, str(split_file), allow_missing)


def read_hmdb51(
    splits_dir: str | Path,
    root: str | Path,
    split: int = 1,
    subset: str = "train",
    allow_missing: bool = False,
) -> Manifest:
    code = {"train": "1", "test": "2"}[subset]
    files = sorted(Path(splits_dir).glob(f"*_test_split{split}.txt"))
    if not files:
        raise ManifestError(f"{splits_dir}: no *_test_split{split}.txt files (HMDB51 split files)")
    entries = []
    for f in files:
        cls = f.name[: -len(f"_test_split{split}.txt")]
        for ln in f.read_text().split("\n"):
            parts = ln.split()
            if len(parts) == 2 and parts[1] == code:
                entries.append(Entry(str(Path(root) / cls / parts[0]), cls))
    return _keep_existing(entries, str(splits_dir), allow_missing)


def read_folders(root: str | Path) -> Manifest:
    return read_class_folders(root, VIDEO_SUFFIXES)


def write_manifest(manifest: Manifest, out: str | Path) -> Path:
    """A vidrop CSV (absolute paths, labels) that every command reads."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label"])
        for e in manifest.entries:
            w.writerow([e.path, e.label if e.label is not None else ""])
    return out
