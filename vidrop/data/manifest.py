"""Video lists: CSV with a `path` column (optional `label`), VideoMAE's `path label` lines, or a
folder with one subfolder of videos (or images) per class."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from vidrop.errors import VidropError


class ManifestError(VidropError, ValueError):
    """A manifest that cannot be used as given; the message names the file and the fix."""


@dataclass(frozen=True)
class Entry:
    path: str  # absolute
    label: str | None


@dataclass
class Manifest:
    source: str
    entries: list[Entry]

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def paths(self) -> list[str]:
        return [e.path for e in self.entries]

    @property
    def class_names(self) -> list[str]:
        """Sorted label names; numeric labels sort numerically."""
        names = {e.label for e in self.entries if e.label is not None}
        return sorted(names, key=lambda s: (0, int(s), s) if s.lstrip("-").isdigit() else (1, 0, s))


def _rows(path: Path) -> list[tuple[str, str | None]]:
    text = path.read_text(encoding="utf-8-sig")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return []
    first = lines[0]
    columns = [c.strip().lower() for c in first.split(",")]
    if "path" not in columns and len(columns) > 1 and not columns[-1].lstrip("-").isdigit():
        raise ManifestError(
            f"manifest {path}: its first line ({first.strip()!r}) reads as a header without a "
            "'path' column; name the video column 'path' (and the class column 'label')"
        )
    if "path" in columns:
        reader = csv.DictReader(lines)
        fields = {f.strip().lower(): f for f in reader.fieldnames or []}
        return [
            (
                row[fields["path"]].strip(),
                row[fields["label"]].strip()
                if "label" in fields and row[fields["label"]]
                else None,
            )
            for row in reader
        ]
    rows: list[tuple[str, str | None]] = []
    for ln in lines:
        parts = ln.strip().rsplit(maxsplit=1) if "," not in ln else ln.strip().rsplit(",", 1)
        if len(parts) == 2 and parts[1].strip().lstrip("-").isdigit():
            rows.append((parts[0].strip(), parts[1].strip()))
        else:
            rows.append((ln.strip(), None))
    return rows


VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mkv", ".mov")


def read_class_folders(root: str | Path, suffixes: tuple[str, ...]) -> Manifest:
    """The files with `suffixes` in each subfolder of `root`, labelled by the subfolder's name
    (torchvision's ImageFolder layout), in sorted order."""
    root = Path(root)
    entries = [
        Entry(str(p.absolute()), d.name)
        for d in sorted(x for x in root.iterdir() if x.is_dir())
        for p in sorted(d.iterdir())
        if p.suffix.lower() in suffixes
    ]
    if not entries:
        raise ManifestError(f"{root}: no class folders with files named *{', *'.join(suffixes)}")
    return Manifest(str(root), entries)


def read_manifest(path: str | Path, root: str | Path | None = None, check: bool = True) -> Manifest:
    """Read a manifest; relative paths resolve against `root` (default: the manifest's folder).
    A folder reads as class folders of videos or images (`read_class_folders`).

    With `check`, every missing video is reported in one error before any work starts.
    """
    path = Path(path)
    if path.is_dir():
        from vidrop.data.images import IMAGE_SUFFIXES

        return read_class_folders(path, VIDEO_SUFFIXES + IMAGE_SUFFIXES)
    if not path.is_file():
        raise ManifestError(f"manifest {path} does not exist; give a CSV with a 'path' column")
    base = (Path(root) if root else path.parent).absolute()  # entries stay valid from any cwd
    rows = _rows(path)
    if not rows:
        raise ManifestError(f"manifest {path} lists no videos")
    entries = [Entry(str(p if Path(p).is_absolute() else base / p), lab) for p, lab in rows]
    if check:
        missing = [e.path for e in entries if not Path(e.path).is_file()]
        if missing:
            raise ManifestError(
                f"manifest {path}: {len(missing)} of {len(entries)} videos do not exist "
                f"(first: {missing[:3]}); relative paths resolve against {base}. "
                "Fix the paths (or set data.root) or remove those lines."
            )
    return Manifest(str(path), entries)
