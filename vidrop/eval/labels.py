"""From extracted features to a labelled probe set: class names, label ids, decodable videos only.

The checks live here so every probe gets the same clear errors: a val label that no training video
has, a class whose training videos all failed to decode, a manifest without labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import torch

from vidrop.eval.errors import EvalError
from vidrop.eval.features import Features

log = logging.getLogger("vidrop")


class LabelError(EvalError):
    """Labels that cannot give an honest number; the message says which and what to do."""


@dataclass
class LabelledSet:
    x: torch.Tensor  # (N, V, D) pooled features, or (N, V, L, D) patch tokens
    y: torch.Tensor  # (N,) int64
    paths: list[str]
    skipped: list[str]  # undecodable videos left out
    short: int  # videos shorter than one clip (last frame repeated)
    # patch tokens only: the rows of x that are these videos (x stays whole, so memory-mapped
    # tokens are never copied); None: every row
    rows: torch.Tensor | None = None

    def row_index(self) -> torch.Tensor:
        return torch.arange(len(self.y)) if self.rows is None else self.rows

    def subset(self, rows: torch.Tensor) -> LabelledSet:
        """These rows of a pooled-feature set (their videos, labels and paths)."""
        return replace(
            self, x=self.x[rows], y=self.y[rows], paths=[self.paths[i] for i in rows.tolist()]
        )


def class_names(train: Features) -> list[str]:
    """Sorted training labels (numeric labels numerically)."""
    missing = [p for p, lab in zip(train.paths, train.labels, strict=True) if lab is None]
    if missing:
        raise LabelError(
            f"{len(missing)} training videos have no label (first: {missing[0]}); "
            "probes need a 'label' column in the manifest"
        )
    names = {str(label) for label in train.labels}
    return sorted(names, key=lambda s: (0, int(s), s) if s.lstrip("-").isdigit() else (1, 0, s))


def labelled(feats: Features, classes: list[str], kind: str, split: str) -> LabelledSet:
    """Features of one kind ("cls", "mean", "cls+mean" or "patch") of the decodable videos, with
    label ids into `classes`. A label outside `classes` is an error naming it."""
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(lab) for lab in feats.labels if lab not in index})
    if unknown:
        raise LabelError(
            f"{split}: labels {unknown[:5]} do not occur among the training videos "
            f"({len(classes)} classes); drop those videos or add training videos of those classes"
        )
    ok, rows = feats.ok, None
    if kind == "patch":
        if feats.patch is None:
            raise LabelError(f"{split}: features hold no patch tokens; extract with --patch-tokens")
        x, rows = feats.patch, ok.nonzero().flatten()  # not copied: they may be on disk
    else:
        x = feats.vector(kind)[ok]
    skipped = [p for p, good in zip(feats.paths, ok.tolist(), strict=True) if not good]
    for p in skipped:
        log.warning("%s: left out %s (it could not be decoded)", split, p)
    y = torch.tensor([index[str(lab)] for lab in feats.labels], dtype=torch.long)[ok]
    paths = [p for p, good in zip(feats.paths, ok.tolist(), strict=True) if good]
    return LabelledSet(x, y, paths, skipped, int(feats.short[ok].sum()), rows)


def check_classes_present(train: LabelledSet, classes: list[str]) -> None:
    """Every class needs at least one decodable training video, or its val videos are unwinnable."""
    counts = torch.bincount(train.y, minlength=len(classes))
    empty = [classes[i] for i in (counts == 0).nonzero().flatten().tolist()]
    if empty:
        raise LabelError(
            f"classes {empty[:5]} have no decodable training video; fix or remove those videos"
        )


def probe_sets(
    train: Features, val: Features, kind: str
) -> tuple[list[str], LabelledSet, LabelledSet]:
    """(classes, train set, val set) of one feature kind, with every check above applied."""
    classes = class_names(train)
    tr, va = labelled(train, classes, kind, "train"), labelled(val, classes, kind, "val")
    check_classes_present(tr, classes)
    return classes, tr, va
