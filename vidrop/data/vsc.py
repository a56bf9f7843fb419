"""The Video Similarity Challenge 2022 (VSC) layout, as `eval copydetect` reads it.

VSC ships query and reference videos named by their ids (`query/Q100001.mp4`,
`reference/R100001.mp4`), a metadata CSV per set with a `video_id` column, and a ground-truth
CSV of copied segments with `query_id` and `ref_id` columns: one row per segment, so a pair can
appear several times and a query can copy several references; a query in no row is a distractor.
`read_vsc` turns them into the two manifests to search and each query's originals (reference file
names), ready for `detect_copies`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from vidrop.data.manifest import Entry, Manifest, ManifestError


@dataclass
class VscSet:
    queries: Manifest
    references: Manifest
    originals: list[tuple[str, ...]]  # per query, its references' file names; () a distractor

    @property
    def true_pairs(self) -> int:
        return sum(len(o) for o in self.originals)


def _columns(path: Path, wanted: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise ManifestError(f"VSC file {path} does not exist")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in wanted if c not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(
                f"{path}: no {missing} column (columns: {reader.fieldnames}); VSC metadata CSVs "
                "have video_id, the ground truth query_id and ref_id"
            )
        return [{c: row[c].strip() for c in wanted} for row in reader]


def _videos(metadata: Path, folder: Path | None, default: str) -> Manifest:
    """The videos a metadata CSV lists, as ID.mp4 in `folder` (default: the CSV's folder's
    `default` subfolder when there is one, else the CSV's folder)."""
    if folder is None:
        folder = metadata.parent / default
        folder = folder if folder.is_dir() else metadata.parent
    ids = [row["video_id"] for row in _columns(metadata, ("video_id",))]
    if not ids:
        raise ManifestError(f"{metadata} lists no videos")
    entries = [Entry(str((folder / f"{i}.mp4").absolute()), None) for i in ids]
    missing = [e.path for e in entries if not Path(e.path).is_file()]
    if missing:
        raise ManifestError(
            f"{metadata}: {len(missing)} of {len(ids)} videos are not in {folder} (first: "
            f"{missing[:3]}); give the folder that holds ID.mp4 for each video_id"
        )
    return Manifest(str(metadata), entries)


def read_vsc(
    queries: str | Path,
    references: str | Path,
    ground_truth: str | Path,
    *,
    query_videos: str | Path | None = None,
    reference_videos: str | Path | None = None,
) -> VscSet:
    """Read a VSC split: the query and reference metadata CSVs, the ground-truth CSV, and the
    folders of the videos (default: `query/` and `reference/` beside the CSVs)."""
    q = _videos(Path(queries), Path(query_videos) if query_videos else None, "query")
    r = _videos(Path(references), Path(reference_videos) if reference_videos else None, "reference")
    qid = {Path(p).stem: i for i, p in enumerate(q.paths)}
    rid = {Path(p).stem for p in r.paths}
    pairs = _columns(Path(ground_truth), ("query_id", "ref_id"))
    unknown = sorted({p["query_id"] for p in pairs} - set(qid)) + sorted(
        {p["ref_id"] for p in pairs} - rid
    )
    if unknown:
        raise ManifestError(
            f"{ground_truth}: {len(unknown)} ids not in the metadata CSVs (first: {unknown[:3]}); "
            "give the metadata of the same split"
        )
    found: list[set[str]] = [set() for _ in q.entries]
    for p in pairs:
        found[qid[p["query_id"]]].add(f"{p['ref_id']}.mp4")
    return VscSet(q, r, [tuple(sorted(f)) for f in found])
