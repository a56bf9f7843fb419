"""Paired gains between two backbones' `eval all` results, with bootstrap intervals.

Each backbone's result keeps its per-item outcomes: the predicted class of every val video for
kNN, linear and attentive probing, every sequence's J&F with its object count, and every copy
query's average precision. Two results are compared on the items both scored (a video one
backbone's run could not decode is left out of both), metric by metric, with
`vidrop.eval.stats.paired_bootstrap`. Copy µAP, which is not a mean over queries, keeps every
query's candidate pairs and is bootstrapped by recomputing it on each resample (`uap_gain`).
"""

from __future__ import annotations

import torch

from vidrop.eval.stats import Interval, paired_bootstrap, percentile_interval

Outcomes = dict[str, tuple[float, float]]  # item -> (score, weight)


def outcomes(result: dict) -> dict[str, Outcomes]:
    """Metric name (as in the table) -> item -> (score in percent, weight)."""
    out: dict[str, Outcomes] = {}
    per_video = result.get("per_video")
    if per_video:
        videos, labels = per_video["videos"], per_video["labels"]
        for metric, preds in per_video["predictions"].items():
            out[metric] = {
                v: (100.0 * (p == y), 1.0) for v, p, y in zip(videos, preds, labels, strict=True)
            }
    seqs = result.get("propagation", {}).get("per_sequence")
    if seqs:
        out["J&F"] = {name: (100.0 * s["jf"], float(s["objects"])) for name, s in seqs.items()}
    queries = result.get("copy_detection", {}).get("per_query")
    if queries:
        out["copy mAP"] = {path: (ap, 1.0) for path, ap in queries.items()}
    return out


def paired_gains(
    result: dict, baseline: dict, samples: int = 2000, level: float = 0.95, seed: int = 0
) -> dict[str, Interval]:
    """Per metric both results hold: result minus baseline, in points, on their common items."""
    return pooled_gains([result], [baseline], samples, level, seed)


def _mean_outcomes(results: list[dict]) -> dict[str, Outcomes]:
    """Per metric and item, the mean score over `results` (items every result scored)."""
    each = [outcomes(r) for r in results]
    out: dict[str, Outcomes] = {}
    for metric in each[0]:
        if not all(metric in o for o in each):
            continue
        items = [k for k in each[0][metric] if all(k in o[metric] for o in each)]
        out[metric] = {
            k: (sum(o[metric][k][0] for o in each) / len(each), each[0][metric][k][1])
            for k in items
        }
    return out


def pooled_gains(
    results: list[dict],
    baselines: list[dict],
    samples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """Gains of the mean of several training runs (e.g. seeds) over the mean of others, paired
    over the val items: each item's score is averaged over the runs first, then the items are
    bootstrapped. The interval covers the val sample's noise of that mean, not the seeds'."""
    ours, theirs = _mean_outcomes(results), _mean_outcomes(baselines)
    gains = {}
    for metric, mine in ours.items():
        other = theirs.get(metric)
        common = [k for k in mine if other and k in other]
        if not common or other is None:
            continue
        a = torch.tensor([mine[k][0] for k in common])
        b = torch.tensor([other[k][0] for k in common])
        w = torch.tensor([mine[k][1] for k in common])
        gains[metric] = paired_bootstrap(a, b, w, samples, level, seed)
    uap = uap_gain(results, baselines, samples, level, seed)
    if uap is not None:
        gains["copy µAP"] = uap
    return gains


def _pairs_tensors(pairs: dict, queries: list[str]) -> tuple[torch.Tensor, ...]:
    """(Q, K) scores (-inf padded), (Q, K) hits, (Q,) true pairs of `queries`."""
    k = max(len(pairs[q][0]) for q in queries)
    scores = torch.full((len(queries), k), float("-inf"), dtype=torch.float64)
    hits = torch.zeros(len(queries), k, dtype=torch.bool)
    for i, q in enumerate(queries):
        row, hit, _ = pairs[q]
        scores[i, : len(row)], hits[i, : len(hit)] = torch.tensor(row), torch.tensor(hit)
    return scores, hits, torch.tensor([pairs[q][2] for q in queries])


CHUNK = 250  # resamples scored at once: (CHUNK, pairs) float64 tensors, ~15 MB at 7,200 pairs


def _counts(idx: torch.Tensor, n: int) -> torch.Tensor:
    """(S, n) how often each of n items is drawn in each row of `idx` (S, n)."""
    return torch.zeros(len(idx), n).scatter_add_(1, idx, torch.ones(idx.shape))


def resampled_uaps(
    scores: torch.Tensor, hits: torch.Tensor, true: torch.Tensor, counts: torch.Tensor
) -> torch.Tensor:
    """The µAP of each resample of the queries at once: `counts` (S, Q) is how often each query
    is drawn in each of S resamples. A drawn query's pairs all have one score, so the copies of a
    pair tie and form one step of the curve (as `micro_average_precision` scores ties): ranking
    every pair once and weighting it by its query's count gives each resample's µAP exactly.
    scores, hits: (Q, K); true: (Q,) true pairs of each query. 0 where a resample has none."""
    q, k = scores.shape
    flat = scores.flatten()
    order = torch.argsort(flat, descending=True, stable=True)
    query = torch.arange(q).repeat_interleave(k)[order]
    hit = hits.flatten()[order].double()
    ranked = flat[order]
    last = torch.ones(len(ranked), dtype=torch.bool)  # the last pair of each group of ties
    last[:-1] = ranked[1:] != ranked[:-1]
    w = counts.double()[:, query]  # (S, P): each pair as often as its query was drawn
    found, seen = (w * hit).cumsum(1)[:, last], w.cumsum(1)[:, last]
    gained = torch.diff(found, dim=1, prepend=found.new_zeros(len(w), 1))
    steps = torch.where(seen > 0, gained * found / seen.clamp(min=1), 0.0)
    n_true = counts.double() @ true.double()
    return torch.where(n_true > 0, steps.sum(1) / n_true.clamp(min=1), 0.0)


def uap_gain(
    results: list[dict], baselines: list[dict], samples: int, level: float, seed: int
) -> Interval | None:
    """The copy µAP of `results` (mean over runs) minus that of `baselines`, in points, with a
    paired bootstrap interval. µAP is no mean over queries, so each resample of the queries
    (distractors included, the same resample for every run) pools its pairs and is scored anew
    (`resampled_uaps`, all resamples at once). None when a result has no per-query pairs."""
    runs = [r.get("copy_detection", {}).get("per_query_pairs") for r in results + baselines]
    if not all(runs):
        return None
    queries = sorted(set.intersection(*(set(p) for p in runs)))
    if not queries:
        return None
    data = [_pairs_tensors(p, queries) for p in runs]
    n = len(queries)

    def gains(counts: torch.Tensor) -> torch.Tensor:
        uaps = torch.stack([resampled_uaps(s, h, t, counts) for s, h, t in data])
        ours, theirs = uaps[: len(results)], uaps[len(results) :]
        return 100.0 * (ours.mean(0) - theirs.mean(0))

    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, n, (samples, n), generator=g)  # the same draws as one at a time
    diffs = torch.cat([gains(_counts(chunk, n)) for chunk in idx.split(CHUNK)])
    return percentile_interval(float(gains(torch.ones(1, n))[0]), diffs, n, level)
