"""Copy detection on frozen features (DINO's Copydays protocol, for videos).

Each video is described by DINO's copy descriptor, its CLS token concatenated with the GeM (p=4)
of its patch tokens, averaged over the test views. Optionally the descriptors are PCA-whitened
with a transform fitted on other videos (DINO: 20k unrelated images, power 0.5), then L2
normalised. Every query searches the database by cosine similarity; a query's score is the
Holidays average precision of its true original among the top `topk` results (DINO's
`score_ap_from_ranks_1`), and mAP averages it over the queries that have an original. Top-1 is
the share of those queries whose nearest database video is their original.

One deliberate difference from DINO's script: the whitening is fitted on the covariance of the
CENTRED descriptors (DINO's code centres the queries and database but takes the second moment of
the uncentred whitening features).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from vidrop.data.manifest import Manifest
from vidrop.eval.errors import EvalError
from vidrop.eval.features import COPY_FEATURE, Features, extract_features
from vidrop.eval.views import EvalViews
from vidrop.models.vit import VideoViT


@dataclass(frozen=True)
class Whitening:
    """x -> (x - mean) @ matrix: PCA rotation, each component divided by its std ** (2 * power)."""

    mean: torch.Tensor  # (D,)
    matrix: torch.Tensor  # (D, D)

    @classmethod
    def fit(cls, x: torch.Tensor, power: float = 0.5, floor: float = 1e-5) -> Whitening:
        """Fit on (N, D) descriptors. Eigenvalues below `floor` x the largest are raised to it
        (as DINO does), so directions the fitting set never varies in are not blown up."""
        x = x.double()
        mean = x.mean(0)
        centred = x - mean
        cov = centred.T @ centred / max(len(x) - 1, 1)
        values, vectors = torch.linalg.eigh(cov)
        values = values.clamp(min=float(values.max()) * floor)
        return cls(mean.float(), (vectors * values.pow(-power)).float())

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) @ self.matrix


@dataclass
class CopyResult:
    map: float  # percent
    top1: float  # percent
    queries: int  # queries with an original in the database
    distractor_queries: int  # queries without one (scored only through the others' ranks)
    skipped_queries: int  # not scored: the query or its original did not decode
    database: int
    whitened: bool
    ranks: list[int | None]  # per query with an original: its 0-based rank (None: not in topk)
    scored: list[str]  # those queries' paths, in the order of `ranks`
    aps: list[float]  # their average precisions in percent (mAP is their mean)

    def summary(self) -> dict:
        """Everything but the per-query lists."""
        return {k: v for k, v in asdict(self).items() if k not in ("ranks", "scored", "aps")}

    def per_query(self) -> dict[str, float]:
        """Query path -> AP in percent: what pairs two backbones' results query by query."""
        return dict(zip(self.scored, self.aps, strict=True))


def average_precision(ranks: list[int], n_positives: int) -> float:
    """Average precision of one search from the 0-based ranks of its true positives (sorted), by
    trapezoids under the precision-recall curve (the Holidays evaluation package's definition)."""
    if n_positives <= 0:
        raise ValueError("a query needs at least one positive")
    ap = 0.0
    for found, rank in enumerate(ranks):
        before = 1.0 if rank == 0 else found / rank
        after = (found + 1) / (rank + 1)
        ap += (before + after) / (2 * n_positives)
    return ap


def video_descriptors(feats: Features) -> torch.Tensor:
    """(N, 2D) copy descriptors: the mean over views of CLS ++ GeM(patch tokens)."""
    return feats.vector(COPY_FEATURE).mean(1)


def copy_detection(
    queries: Features,
    database: Features,
    originals: list[str | None],
    whitening: Features | None = None,
    topk: int = 20,
) -> CopyResult:
    """Score `queries` against `database`. `originals[i]` names query i's original: a database
    video's path or file name (None: a query with no original, which only adds competition)."""
    if len(originals) != len(queries):
        raise ValueError(f"{len(originals)} originals for {len(queries)} queries")
    db_ok = database.ok.nonzero().flatten().tolist()
    if not db_ok:
        raise EvalError("no database video could be decoded")
    target, searched, skipped = _targets(queries, database, originals)
    q_x, db_x = video_descriptors(queries)[searched], video_descriptors(database)[db_ok]
    if whitening is not None:
        if int(whitening.ok.sum()) < 2:
            raise EvalError("whitening needs at least two decodable videos")
        w = Whitening.fit(video_descriptors(whitening)[whitening.ok])
        q_x, db_x = w(q_x), w(db_x)
    sim = F.normalize(q_x, dim=1) @ F.normalize(db_x, dim=1).T
    order = sim.topk(min(topk, len(db_ok)), dim=1).indices.tolist()
    ranks: list[int | None] = []
    scored: list[str] = []
    aps = []
    for row, q in zip(order, searched, strict=True):
        if target[q] is None:
            continue
        found = [r for r, j in enumerate(row) if db_ok[j] == target[q]]
        ranks.append(found[0] if found else None)
        scored.append(queries.paths[q])
        aps.append(100.0 * average_precision(found, 1))
    if not aps:
        raise EvalError("no decodable query has an original in the database; nothing to score")
    return CopyResult(
        map=sum(aps) / len(aps),
        top1=100.0 * sum(r == 0 for r in ranks) / len(ranks),
        queries=len(aps),
        distractor_queries=len(searched) - len(aps),
        skipped_queries=skipped,
        database=len(db_ok),
        whitened=whitening is not None,
        ranks=ranks,
        scored=scored,
        aps=aps,
    )


def _targets(
    queries: Features, database: Features, originals: list[str | None]
) -> tuple[list[int | None], list[int], int]:
    """Per query its original's database index (None: no score), the queries that are searched
    (decodable, with a decodable original, or distractors), and how many could not be scored."""
    key_of: dict[str, list[int]] = {}
    for i, path in enumerate(database.paths):
        for key in {path, Path(path).name}:
            key_of.setdefault(key, []).append(i)
    target: list[int | None] = []
    searched: list[int] = []
    skipped = 0
    for q, original in enumerate(originals):
        if original is not None and original not in key_of:
            raise EvalError(
                f"query {queries.paths[q]}: its original {original!r} is not in the database; "
                "give its path or file name as the query's label, or leave the label empty for "
                "a query with no original"
            )
        if original is not None and len(key_of[original]) > 1:
            raise EvalError(f"query original {original!r} names several database videos")
        orig = None if original is None else key_of[original][0]
        if not queries.ok[q] or (orig is not None and not database.ok[orig]):
            skipped += 1
            orig = None
        else:
            searched.append(q)
        target.append(orig)
    return target, searched, skipped


def detect_copies(
    backbone: VideoViT,
    queries: Manifest,
    database: Features,
    views: EvalViews,
    *,
    whitening: Features | None = None,
    topk: int = 20,
    batch_size: int = 8,
    num_workers: int | None = None,
    device: str = "cpu",
    description: str = "copies",
) -> CopyResult:
    """Extract the queries of a manifest (label: the original's file name or path, empty for a
    distractor) with `backbone` and score them against already extracted database features."""
    q = extract_features(
        backbone, queries, views, batch_size=batch_size, num_workers=num_workers,
        device=device, description=description,
    )  # fmt: skip
    originals = [e.label for e in queries.entries]
    return copy_detection(q, database, originals, whitening, topk)
