"""Pictures where people look rather than read: a run's training curves (RUN/curves.png, also
`vidrop plot`), and an evaluation's accuracies and gains (eval.png), drawn from the records the
caller read. matplotlib is a dependency;
where an environment lacks it the automatic pictures are skipped with one warning, and
`vidrop plot` says what to install."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from vidrop.atomic import atomic_path
from vidrop.errors import VidropError

log = logging.getLogger("vidrop")

# the panels of curves.png: metrics.jsonl keys drawn together
CURVES = (
    ("loss", ("loss",)),
    ("loss terms", ("dino_global_loss", "dino_local_loss", "ibot_loss", "koleo_loss")),
    ("learning rate", ("lr",)),
    ("weight decay", ("wd",)),
    ("teacher momentum", ("momentum",)),
    ("teacher temperature", ("teacher_temp",)),
    ("collapse: teacher entropy / usage", ("teacher_entropy", "teacher_usage")),
    ("collapse: CLS std", ("cls_std",)),
    ("clips/s", ("clips_per_s",)),
)


class MissingExtra(VidropError, ImportError):
    """matplotlib is not installed."""


def pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtra("pictures need matplotlib: pip install matplotlib") from exc
    return plt


def plot_curves(records: dict[str, list[dict[str, Any]]], out: Path) -> Path:
    """Training curves of one or several runs (a line per run): each run's metrics.jsonl
    records, by the run's name."""
    plt = pyplot()
    shown = [
        (t, [k for k in keys if any(k in x for rs in records.values() for x in rs)])
        for t, keys in CURVES
    ]
    shown = [(t, keys) for t, keys in shown if keys]
    cols = 3
    fig, axes = plt.subplots(
        -(-len(shown) // cols), cols, figsize=(13, 3.2 * -(-len(shown) // cols))
    )
    for ax, (title, keys) in zip(axes.flat, shown, strict=False):
        for run, rs in records.items():
            for key in keys:
                pts = [(r["step"], r[key]) for r in rs if key in r]
                label = (run if len(records) > 1 else "") + (f" {key}" if len(keys) > 1 else "")
                ax.plot(*zip(*pts, strict=True), lw=1.2, label=label.strip() or None)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        ax.grid(alpha=0.3)
        if len(records) > 1 or len(keys) > 1:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    fig.tight_layout()
    _save(fig, out)
    return out


def plot_eval(rows: dict[str, dict[str, Any]], report: dict[str, Any], out: Path) -> Path:
    """eval.png: each metric of each backbone (left: `rows`, each backbone's headline numbers)
    and each gain of the report with its interval (right)."""
    plt = pyplot()
    rows = {n: {k: v for k, v in row.items() if isinstance(v, float)} for n, row in rows.items()}
    metrics = list(next(iter(rows.values())))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2))
    width = 0.8 / max(len(rows), 1)
    for i, (name, row) in enumerate(rows.items()):
        xs = [m + i * width for m in range(len(metrics))]
        left.bar(xs, [row.get(m, 0.0) for m in metrics], width, label=name)
    _axis(left, metrics, len(rows), width, "score (%)")
    gains = report.get("gains", {})
    for i, (name, g) in enumerate(gains.items()):
        xs = [m + i * width for m in range(len(metrics)) if metrics[m] in g]
        vals = [g[m] for m in metrics if m in g]
        err = [[v["gain"] - v["low"] for v in vals], [v["high"] - v["gain"] for v in vals]]
        label = f"{name} - {report['floors'][name]}"
        right.bar(xs, [v["gain"] for v in vals], width, yerr=err, capsize=3, label=label)
    right.axhline(0, color="black", lw=0.8)
    _axis(right, metrics, max(len(gains), 1), width, "gain over the floor, points (95% CI)")
    fig.tight_layout()
    _save(fig, out)
    return out


def _save(fig: Any, out: Path, dpi: int = 110) -> None:
    """The figure to `out`, whole or not at all; then closed."""
    with atomic_path(out, ".tmp" + out.suffix) as tmp:
        fig.savefig(tmp, dpi=dpi)
    pyplot().close(fig)


def _axis(ax: Any, metrics: list[str], groups: int, width: float, label: str) -> None:
    ax.set_xticks([m + width * (groups - 1) / 2 for m in range(len(metrics))])
    ax.set_xticklabels(metrics, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(label, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def try_plot(draw: Any, *args: Any) -> Path | None:
    """An automatic picture: drawn, or skipped with a warning when matplotlib is missing."""
    try:
        return draw(*args)
    except MissingExtra as exc:
        log.warning("%s not drawn: %s", args[-1], exc)
        return None
