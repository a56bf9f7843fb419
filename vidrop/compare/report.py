"""compare.json, compare.md and compare.png of a finished comparison.

Every method's cost (steps, training seconds, clips/s, counted TFLOP, peak memory) stands beside
its accuracies, so an unequal budget cannot hide; accuracies are the mean ± std over the training
seeds; each gain has its per-seed paired intervals and the interval of the seed-averaged gain.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidrop.atomic import atomic_path, write_json_atomic, write_text_atomic
from vidrop.eval.gains import paired_gains, pooled_gains
from vidrop.eval.suite import format_gain, headline
from vidrop.machine import describe_machine

if TYPE_CHECKING:
    from vidrop.compare.core import Comparison

FLOORS = ("random_init", "random_init_mean")


def method_entry(cmp: Comparison, method: str, seed: int) -> dict[str, Any]:
    """One method at one seed, in compare.json's layout."""
    ev = cmp.evals.get(seed, {}).get("backbones", {})
    if method in FLOORS:
        return {
            "pretrain_seconds": 0.0,
            "steps": 0,
            "train_tflop": 0.0,
            "curve": [],
            "feature": ev.get(method, {}).get("feature"),
            "eval": ev.get(method),
        }
    run = cmp.runs[seed][method]
    if run.error:
        return {"error": run.error}
    budget = cmp.budget_for(method, seed)
    return {
        "pretrain_seconds": run.seconds,
        "steps": run.steps,
        "steps_planned": run.steps_planned,
        "train_tflop": run.steps * cmp.flops[method] / 1e12,
        "tflop_per_step": cmp.flops[method] / 1e12,
        "clips_per_s": run.clips_per_s,
        "peak_mem_gib": run.peak_mem_gib,
        "lr": cmp.cfgs[method].optim.base_lr * cmp.lr_factor[method],
        "lr_factor": cmp.lr_factor[method],
        "budget": budget.to_dict(),
        "backbone": str(Path(run.folder) / "export"),
        "feature": ev.get(method, {}).get("feature"),
        "eval": ev.get(method),
        "curve": run.curve,
    }


def summary(entries: dict[int, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per headline metric: the values over seeds, their mean and std."""
    rows = [headline(e["eval"]) for e in entries.values() if e.get("eval")]
    out = {}
    for metric in rows[0] if rows else []:
        values = [r[metric] for r in rows if isinstance(r.get(metric), float)]
        if values:
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            out[metric] = {"mean": statistics.fmean(values), "std": std, "values": values}
    return out


def gain_entry(cmp: Comparison, a: str, b: str) -> dict[str, Any]:
    """a's gain over b per metric: per seed (paired interval), mean ± std, and pooled."""
    seeds = [
        s
        for s in cmp.spec.seeds
        if a in cmp.evals[s]["backbones"] and b in cmp.evals[s]["backbones"]
    ]
    if not seeds:
        return {}
    results = {s: (cmp.evals[s]["backbones"][a], cmp.evals[s]["backbones"][b]) for s in seeds}
    per_seed = {s: paired_gains(*results[s]) for s in seeds}
    pooled = pooled_gains([results[s][0] for s in seeds], [results[s][1] for s in seeds])
    out = {}
    for metric, interval in pooled.items():
        values = [per_seed[s][metric].value for s in seeds if metric in per_seed[s]]
        out[metric] = {
            "per_seed": {str(s): per_seed[s][metric].to_dict() for s in seeds},
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "pooled": interval.to_dict(),
        }
    return out


def comparisons(cmp: Comparison) -> list[tuple[str, str]]:
    methods = [m for m in cmp.spec.methods if m != "vidrop"]
    floors = {m: "random_init" if m != "videomae" else "random_init_mean" for m in cmp.spec.methods}
    return [("vidrop", m) for m in methods] + [(m, floors[m]) for m in cmp.spec.methods]


def build_report(cmp: Comparison) -> dict[str, Any]:
    first = cmp.spec.seeds[0]
    names = [
        *cmp.spec.methods,
        *(f for f in FLOORS if any(f in cmp.evals[s]["backbones"] for s in cmp.spec.seeds)),
    ]
    methods = {}
    for name in names:
        entries = {s: method_entry(cmp, name, s) for s in cmp.spec.seeds}
        methods[name] = {
            **entries[first],
            "seeds": {str(s): e for s, e in entries.items()},
            "summary": summary(entries),
        }
    budget = cmp.spec.budget or cmp.budgets.get(first)
    return {
        "command": cmp.spec.command,
        "machine": describe_machine(),
        "recipe": cmp.spec.recipe,
        "overrides": cmp.spec.overrides,
        "data": {
            "train": cmp.spec.train,
            "val": cmp.spec.val,
            "train_videos": cmp.videos,
            "val_videos": len(cmp.val_set),
        },
        "seeds": list(cmp.spec.seeds),
        "budget": budget.to_dict() if budget else None,
        "budgets_per_seed": {str(s): b.to_dict() for s, b in cmp.budgets.items()},
        "lr": {
            m: {"factor": cmp.lr_factor[m], "grid": cmp.lr_grid.get(m, [])}
            for m in cmp.spec.methods
        },
        "methods": methods,
        "gains": {f"{a} vs {b}": gain_entry(cmp, a, b) for a, b in comparisons(cmp)},
    }


def _cell(s: dict[str, Any] | None) -> str:
    if not s:
        return ""
    return f"{s['mean']:.1f} ± {s['std']:.1f}" if len(s["values"]) > 1 else f"{s['mean']:.1f}"


def markdown(report: dict[str, Any]) -> str:
    m, seeds = report["methods"], report["seeds"]
    b = report["budget"] or {}
    ref = " (what ViDROP's recipe took)" if b.get("reference") else ""
    per_seed = ", ".join(f"{v['value']:.4g}" for v in report["budgets_per_seed"].values())
    lines = [
        "# vidrop compare",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Machine: {report['machine'].get('cpu')} ({report['machine'].get('cpu_cores')} cores), "
        f"torch {report['machine'].get('torch')}, {report['machine'].get('gpu') or 'no GPU'}",
        "",
        f"Data: {report['data']['train_videos']} training and {report['data']['val_videos']} val "
        f"videos; recipe {report['recipe']} {' '.join(report['overrides'])}; seeds "
        f"{', '.join(map(str, seeds))}; budget: {b.get('kind')} {b.get('value', 0):.4g}{ref}"
        + (f" (per seed: {per_seed})" if per_seed else ""),
        "",
        "## Cost",
        "",
        "| method | feature | lr | steps | pretrain s | clips/s | TFLOP | peak GiB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in m.items():
        if "error" in e:
            lines.append(f"| {name} | failed: {e['error']} | | | | | | |")
        elif name not in FLOORS:
            lines.append(
                f"| {name} | {e['feature']} | {e['lr']:.3g} | {e['steps']} | "
                f"{e['pretrain_seconds']:.0f} | {e['clips_per_s']:.0f} | {e['train_tflop']:.3g} | "
                f"{e['peak_mem_gib']:.1f} |"
            )
    metrics = list(next((e["summary"] for e in m.values() if e.get("summary")), {}))
    lines += [
        "",
        f"## Accuracy (mean ± std over {len(seeds)} seeds)",
        "",
        "| backbone | feature | " + " | ".join(metrics) + " |",
        "|---|---|" + "---:|" * len(metrics),
    ]
    for name, e in m.items():
        if e.get("summary"):
            cells = [_cell(e["summary"].get(k)) for k in metrics]
            lines.append(f"| {name} | {e.get('feature')} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Gains in points",
        "",
        "Mean ± std over the seeds, then the 95% paired bootstrap interval of the "
        "seed-averaged gain over the val videos (val-sample noise only).",
        "",
        "| comparison | " + " | ".join(metrics) + " |",
        "|---|" + "---:|" * len(metrics),
    ]
    for pair, g in report["gains"].items():
        cells = [
            f"{g[k]['mean']:+.1f} ± {g[k]['std']:.1f} {format_gain(g[k]['pooled'])}"
            if k in g
            else ""
            for k in metrics
        ]
        lines.append(f"| {pair} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path, k: str = "20") -> Path | None:
    """kNN (k=20) on val against training TFLOP, a line per method and seed, random init dashed;
    None where matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colours: dict[str, str] = {}
    first = str(report["seeds"][0])
    for name, e in report["methods"].items():
        for seed, entry in e["seeds"].items():
            if name in FLOORS and entry.get("eval"):
                label = f"{name} ({entry['feature']})" if seed == first else None
                ls = ":" if name == "random_init_mean" else "--"
                ax.axhline(entry["eval"]["knn"][k], color="grey", ls=ls, lw=1, label=label)
                continue
            curve = [p for p in entry.get("curve", []) if "knn" in p]
            if curve:
                xs, ys = [p["tflop"] for p in curve], [p["knn"][k] for p in curve]
                label = name if name not in colours else None
                line = ax.plot(xs, ys, marker="o", ms=3, color=colours.get(name), label=label)
                colours[name] = line[0].get_color()
    ax.set_xlabel("training compute (TFLOP, counted)")
    ax.set_ylabel(f"kNN top-1 on val, k={k} (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, ".tmp.png") as tmp:
        fig.savefig(tmp, dpi=130)
    plt.close(fig)
    return path


def write_reports(cmp: Comparison) -> dict[str, Any]:
    report = build_report(cmp)
    out = cmp.spec.out
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "compare.json", report)
    write_text_atomic(out / "compare.md", markdown(report))
    if plot(report, out / "compare.png") is None:
        import logging

        logging.getLogger("vidrop").warning(
            "compare.png not drawn: matplotlib is missing (pip install matplotlib)"
        )
    return report
