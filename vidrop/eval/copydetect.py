"""Copy detection on frozen features (DINO's Copydays protocol, for videos).

Each video is described by DINO's copy descriptor, its CLS token concatenated with the GeM (p=4)
of its patch tokens, averaged over the test views. Optionally the descriptors are PCA-whitened
with a transform fitted on other videos (DINO: 20k unrelated images, power 0.5), then L2
normalised. Every query searches the database by cosine similarity; a query's score is the
Holidays average precision of its true original among the top `topk` results (DINO's
`score_ap_from_ranks_1`), and mAP averages it over the queries that have an original. Top-1 is
the share of those queries whose nearest database video is their original.

Beside it, the metric of the paper's copy detection (Pizzi et al. 2023, the Video Similarity
Challenge's descriptor track): micro-average precision (µAP). The `topk` candidate pairs of
EVERY query, distractor queries included, are pooled and ranked by score, and precision is
measured against recall over all true pairs. Unlike mAP, a distractor that scores high costs
precision, and the scores must be comparable across queries.

One deliberate difference from DINO's script: the whitening is fitted on the covariance of the
CENTRED descriptors (DINO's code centres the queries and database but takes the second moment of
the uncentred whitening features).
"""

from __future__ import annotations

from collections.abc import Sequence
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
    uap: float  # percent: µAP of the pooled candidate pairs
    top1: float  # percent
    queries: int  # queries with an original in the database
    distractor_queries: int  # queries without one (scored only through the others' ranks)
    skipped_queries: int  # not scored: the query or its original did not decode
    database: int
    whitened: bool
    candidate_pairs: int  # pooled (query, database video) pairs µAP ranks
    true_pairs: int  # (query, original) pairs of the scored queries: µAP's recall denominator
    ranks: list[int | None]  # per query with an original: its 0-based rank (None: not in topk)
    scored: list[str]  # those queries' paths, in the order of `ranks`
    aps: list[float]  # their average precisions in percent (mAP is their mean)
    # every searched query's (scores, hits, true pairs): what µAP pools, and resamples for its
    # bootstrap interval (vidrop.eval.gains)
    pairs: dict[str, tuple[list[float], list[bool], int]]

    def summary(self) -> dict:
        """Everything but the per-query lists."""
        skip = ("ranks", "scored", "aps", "pairs")
        return {k: v for k, v in asdict(self).items() if k not in skip}

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


def micro_average_precision(
    scores: torch.Tensor, is_match: torch.Tensor, n_true_pairs: int
) -> float:
    """µAP of pooled candidate pairs: the sum over the ranked pairs of (recall gained) x
    (precision so far), recall counted against `n_true_pairs` (true pairs never among the
    candidates cost recall). Pairs of equal score form one step of the curve, so the result does
    not depend on their order (VSC's reference ranks ties in input order). In [0, 1]."""
    if n_true_pairs <= 0:
        raise ValueError("µAP needs at least one true pair")
    if scores.shape != is_match.shape or scores.dim() != 1:
        raise ValueError(f"scores {tuple(scores.shape)} and is_match {tuple(is_match.shape)}")
    if int(is_match.sum()) > n_true_pairs:
        raise ValueError(f"{int(is_match.sum())} matching candidates for {n_true_pairs} true pairs")
    if len(scores) == 0:
        return 0.0
    order = torch.argsort(scores.double(), descending=True, stable=True)
    s, hit = scores.double()[order], is_match[order].double()
    found, seen = hit.cumsum(0), torch.arange(1, len(s) + 1, dtype=torch.float64)
    last = torch.ones(len(s), dtype=torch.bool)  # the last pair of each group of equal scores
    last[:-1] = s[1:] != s[:-1]
    found, seen = found[last], seen[last]
    gained = torch.diff(found, prepend=found.new_zeros(1))
    return float((gained * found / seen).sum() / n_true_pairs)


def video_descriptors(feats: Features) -> torch.Tensor:
    """(N, 2D) copy descriptors: the mean over views of CLS ++ GeM(patch tokens)."""
    return feats.vector(COPY_FEATURE).mean(1)


Originals = str | Sequence[str] | None


def copy_detection(
    queries: Features,
    database: Features,
    originals: Sequence[Originals],
    whitening: Features | None = None,
    topk: int = 20,
) -> CopyResult:
    """Score `queries` against `database`. `originals[i]` names query i's original(s): database
    videos' paths or file names (None or empty: a distractor query, with no original, which
    competes in every query's µAP and in no query's mAP)."""
    if len(originals) != len(queries):
        raise ValueError(f"{len(originals)} originals for {len(queries)} queries")
    db_ok = database.ok.nonzero().flatten().tolist()
    if not db_ok:
        raise EvalError("no database video could be decoded")
    target, searched, skipped = _targets(queries, database, [_keys(o) for o in originals])
    sim = _similarity(
        video_descriptors(queries)[searched], video_descriptors(database)[db_ok], whitening
    )
    top = sim.topk(min(topk, len(db_ok)), dim=1)
    rows = zip(top.indices.tolist(), searched, strict=True)
    hits = [[db_ok[j] in target[q] for j in row] for row, q in rows]
    with_original = [(q, hit) for q, hit in zip(searched, hits, strict=True) if target[q]]
    if not with_original:
        raise EvalError("no decodable query has an original in the database; nothing to score")
    found = {q: [r for r, h in enumerate(hit) if h] for q, hit in with_original}
    ranks = [f[0] if f else None for f in found.values()]
    aps = [100.0 * average_precision(f, len(target[q])) for q, f in found.items()]
    true_pairs = sum(len(target[q]) for q in searched)
    uap = micro_average_precision(top.values.flatten(), torch.tensor(hits).flatten(), true_pairs)
    return CopyResult(
        map=sum(aps) / len(aps),
        uap=100.0 * uap,
        top1=100.0 * sum(r == 0 for r in ranks) / len(ranks),
        queries=len(aps),
        distractor_queries=len(searched) - len(aps),
        skipped_queries=skipped,
        database=len(db_ok),
        whitened=whitening is not None,
        candidate_pairs=top.values.numel(),
        true_pairs=true_pairs,
        ranks=ranks,
        scored=[queries.paths[q] for q, _ in with_original],
        aps=aps,
        pairs={
            queries.paths[q]: (row, hit, len(target[q]))
            for q, row, hit in zip(searched, top.values.tolist(), hits, strict=True)
        },
    )


def _similarity(q_x: torch.Tensor, db_x: torch.Tensor, whitening: Features | None) -> torch.Tensor:
    """Cosine similarity of query and database descriptors, PCA-whitened first when asked."""
    if whitening is not None:
        if int(whitening.ok.sum()) < 2:
            raise EvalError("whitening needs at least two decodable videos")
        w = Whitening.fit(video_descriptors(whitening)[whitening.ok])
        q_x, db_x = w(q_x), w(db_x)
    return F.normalize(q_x, dim=1) @ F.normalize(db_x, dim=1).T


def _keys(original: Originals) -> tuple[str, ...]:
    """A query's originals as a tuple: () for a distractor (None or an empty label)."""
    if not original:
        return ()
    return (original,) if isinstance(original, str) else tuple(original)


def _targets(
    queries: Features, database: Features, originals: list[tuple[str, ...]]
) -> tuple[list[set[int]], list[int], int]:
    """Per query its originals' database indices (empty: a distractor, or not scored), the
    queries that are searched (decodable, with decodable originals, or distractors), and how
    many could not be scored."""
    key_of: dict[str, list[int]] = {}
    for i, path in enumerate(database.paths):
        for key in {path, Path(path).name}:
            key_of.setdefault(key, []).append(i)
    target: list[set[int]] = []
    searched: list[int] = []
    skipped = 0
    for q, keys in enumerate(originals):
        for original in keys:
            if original not in key_of:
                raise EvalError(
                    f"query {queries.paths[q]}: its original {original!r} is not in the "
                    "database; give its path or file name as the query's label, or leave the "
                    "label empty for a query with no original"
                )
            if len(key_of[original]) > 1:
                raise EvalError(f"query original {original!r} names several database videos")
        orig = {key_of[o][0] for o in keys}
        if not queries.ok[q] or not all(database.ok[i] for i in orig):
            skipped += 1
            orig = set()
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
    originals: Sequence[Originals] | None = None,
) -> CopyResult:
    """Extract the queries of a manifest with `backbone` and score them against already extracted
    database features. Their originals: `originals`, or else each query's label (the original's
    file name or path, empty for a distractor)."""
    q = extract_features(
        backbone,
        queries,
        views,
        batch_size=batch_size,
        num_workers=num_workers,
        device=device,
        description=description,
    )
    if originals is None:
        originals = [e.label for e in queries.entries]
    return copy_detection(q, database, originals, whitening, topk)
