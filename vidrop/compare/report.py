"""compare.json, compare.md and compare.png of a finished comparison.

Every method's recipe as trained (peak and final lr, warmup, its drop or mask ratio, the tokens of
a large clip its encoder sees), its tuning trials and its cost (steps, training seconds, clips/s,
counted TFLOP, peak memory) stand beside its accuracies, so neither an unequal budget nor an
untuned peer can hide; accuracies are the mean ± std over the training seeds; each gain has its
per-seed paired intervals and the interval of the seed-averaged gain.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidrop.atomic import atomic_path, write_json_atomic, write_text_atomic
from vidrop.compare.tuning import FINALISTS, at_edge, peak_lr, selection_score
from vidrop.config import Config
from vidrop.eval.gains import paired_gains, pooled_gains
from vidrop.eval.suite import format_bounds, headline
from vidrop.machine import describe_machine
from vidrop.methods import get_method
from vidrop.tokens import TokenGrid

if TYPE_CHECKING:
    from vidrop.compare.core import Comparison

FLOOR = {"cls": "random_init", "mean": "random_init_mean"}  # a feature's random-init row
FLOORS = tuple(FLOOR.values())


def recipe_as_trained(cmp: Comparison, method: str) -> dict[str, Any]:
    """What a method's final runs trained: lr schedule, the knob and the encoder's tokens."""
    cfg = cmp.final_config(method)
    o, m = cfg.optim, get_method(method)
    chosen = cmp.chosen[method]
    return {
        "peak_lr": peak_lr(cfg),
        "min_lr": o.min_lr,
        "warmup_share": o.warmup_epochs / o.epochs,
        # the encoder's blocks and patch embedding train at these multiples of the peak lr
        "layerwise_decay": o.layerwise_decay,
        "patch_embed_lr_mult": o.patch_embed_lr_mult,
        "weight_decay": [o.weight_decay, o.weight_decay_end],
        "betas": [o.beta1, o.beta2],
        "drop_ratio": cfg.mask.drop_ratio,
        "drop_pattern": cfg.mask.drop_pattern,
        "mask_prob": cfg.mask.mask_prob,
        "mask_ratio": list(cfg.mask.mask_ratio),
        "visible_tokens": visible_tokens(cfg, method),
        "clip_tokens": clip_grid(cfg).numel,
        "knob": m.knob,
        "settings": chosen.settings if chosen else {},
        "tuned": chosen is not None,
    }


def clip_grid(cfg: Config) -> TokenGrid:
    v, mo = cfg.views, cfg.model
    return TokenGrid.of_clip(v.large_frames, v.large_size, mo.tubelet, mo.patch_size)


def visible_tokens(cfg: Config, method: str) -> int:
    """Tokens of a large clip the trained encoder sees (kept; masked ones count: they are in its
    sequence as the mask token)."""
    spec = get_method(method).plan_spec(cfg, 0)
    return int(spec.draw(1, 0).keep.shape[1]) if spec is not None else clip_grid(cfg).numel


def method_entry(cmp: Comparison, name: str, seed: int) -> dict[str, Any]:
    """One backbone (a method's, a METHOD:PART, or a floor) at one seed, in compare.json."""
    ev = cmp.evals.get(seed, {}).get("backbones", {})
    evaluated = {"feature": ev.get(name, {}).get("feature"), "eval": ev.get(name)}
    if name in FLOORS:
        return {"pretrain_seconds": 0.0, "steps": 0, "train_tflop": 0.0, "curve": [], **evaluated}
    method, _, part = name.partition(":")
    run = cmp.runs[seed][method]
    if run.error:
        return {"error": run.error}
    flops = cmp.flops_of(cmp.final_config(method))
    budget, recipe = cmp.budget(seed), recipe_as_trained(cmp, method)
    used = run.seconds / budget.value if budget.kind == "seconds" else None
    return {
        "pretrain_seconds": run.seconds,
        "steps": run.steps,
        "steps_planned": run.steps_planned,
        "train_tflop": run.steps * flops / 1e12,
        "tflop_per_step": flops / 1e12,
        "clips_per_s": run.clips_per_s,
        "peak_mem_gib": run.peak_mem_gib,
        **recipe,
        "lr": recipe["peak_lr"],  # as compare.json has always named it
        "budget": budget.to_dict(),
        "budget_used": used,  # share of a seconds budget the run spent (None: not seconds)
        "part": part or get_method(method).parts[0],
        "backbone": str(Path(run.folder) / "export"),
        **evaluated,
        "curve": run.curve,
        "tuning": cmp.tuning.get(method, []),
        "finalists": cmp.finalists.get(method, []),
    }


def summary(entries: dict[int, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per headline metric: the values over seeds, their mean and std."""
    rows = [headline(e["eval"]) for e in entries.values() if e.get("eval")]
    out = {}
    for metric in rows[0] if rows else []:
        values = [float(r[metric]) for r in rows if isinstance(r.get(metric), float)]
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


def claim_holds(gain: dict[str, Any]) -> bool:
    """The rule a claim from a comparison needs (docs/comparing.md): the gain has one sign in
    every seed, of two or more (one seed says nothing of the spread between runs), and its
    seed-averaged interval excludes zero on that side."""
    values = [p["gain"] for p in gain["per_seed"].values()]
    pooled = gain["pooled"]
    above = pooled["low"] > 0 and all(v > 0 for v in values)
    below = pooled["high"] < 0 and all(v < 0 for v in values)
    return len(values) >= 2 and (above or below)


def comparisons(cmp: Comparison, names: list[str]) -> list[tuple[str, str]]:
    """The reference against every other backbone, and every backbone against its floor."""
    ref = cmp.spec.reference
    trained = [n for n in names if n not in FLOORS]
    floors = {n: FLOOR[get_method(n.partition(":")[0]).feature] for n in trained}
    return [(ref, n) for n in trained if n != ref] + [(n, floors[n]) for n in trained]


def backbone_names(cmp: Comparison) -> list[str]:
    """Every evaluated backbone, the methods in --methods order first, then floors."""
    seen = [n for s in cmp.spec.seeds for n in cmp.evals.get(s, {}).get("backbones", {})]
    trained = [*cmp.spec.methods, *(n for n in dict.fromkeys(seen) if ":" in n)]  # then PARTs
    return [*trained, *(f for f in FLOORS if f in seen)]


def build_report(cmp: Comparison) -> dict[str, Any]:
    s, first = cmp.spec, cmp.spec.seeds[0]
    names = backbone_names(cmp)
    methods = {}
    for name in names:
        entries = {seed: method_entry(cmp, name, seed) for seed in s.seeds}
        methods[name] = {
            **entries[first],
            "seeds": {str(seed): e for seed, e in entries.items()},
            "summary": summary(entries),
        }
    return {
        "command": s.command,
        "machine": describe_machine(),
        "recipe": s.recipe,
        "overrides": s.overrides,
        "reference": s.reference,
        "data": {
            "train": s.train,
            "val": s.val,
            "train_videos": cmp.videos,
            "val_videos": len(cmp.val_set),
        },
        "seeds": list(s.seeds),
        "budget": cmp.budget(first).to_dict(),
        "budgets_per_seed": {str(seed): cmp.budget(seed).to_dict() for seed in s.seeds},
        "tuning": {
            "lrs": list(cmp.lrs),
            "asked_lrs": list(s.lrs),
            "trial_share": s.trial_share,
            "trial_budget": cmp.trial_budget().to_dict() if s.lrs else None,
            "finalists": FINALISTS if any(cmp.finalists.values()) else 0,
            "score": "mean of kNN (k=20) and linear top-1 on the training videos, each held out "
            "once in five-fold cross-validation",
        },
        "methods": methods,
        "gains": {f"{a} vs {b}": gain_entry(cmp, a, b) for a, b in comparisons(cmp, names)},
    }


def _cell(s: dict[str, Any] | None) -> str:
    if not s:
        return ""
    return f"{s['mean']:.1f} ± {s['std']:.1f}" if len(s["values"]) > 1 else f"{s['mean']:.1f}"


def _header(report: dict[str, Any]) -> list[str]:
    b, mach = report["budget"] or {}, report["machine"]
    ref = f" (what {report['reference']}'s recipe took)" if b.get("reference") else ""
    per_seed = ", ".join(f"{v['value']:.4g}" for v in report["budgets_per_seed"].values())
    t = report["tuning"]
    tuning = "No tuning: every method trained its recipe as given (not a fair verdict)."
    if t["lrs"]:
        tb = t["trial_budget"]
        counts = {n: len(e["tuning"]) for n, e in report["methods"].items() if e.get("tuning")}
        grid = ", ".join(f"{x:g}" for x in t["lrs"])
        if list(t.get("asked_lrs", t["lrs"])) != list(t["lrs"]):
            asked = ", ".join(f"{x:g}" for x in t["asked_lrs"])
            grid += f" (asked {asked}; widened for every method where a chosen lr sat on an edge)"
        tuning = (
            f"Tuning, the same for every method: peak lr in {grid}"
            f" (each cosine down to 1% of it) x the 2 settings of the method's knob, each trial "
            f"{t['trial_share']:g} of the budget ({tb['kind']} {tb['value']:.4g}), chosen by the "
            f"{t['score']}. Trials: " + ", ".join(f"{n} {c}" for n, c in counts.items()) + "."
        )
        if t.get("finalists"):
            tuning += (
                f" The best trial at each of the {t['finalists']} best lrs then trained the full "
                "budget (the first seed) and the better held-out score there chose."
            )
    return [
        "# vidrop compare",
        "",
        f"Command: `{report['command']}`",
        "",
        f"Machine: {mach.get('cpu')} ({mach.get('cpu_cores')} cores), torch {mach.get('torch')}, "
        f"{mach.get('gpu') or 'no GPU'}",
        "",
        f"Data: {report['data']['train_videos']} training and {report['data']['val_videos']} val "
        f"videos; recipe {report['recipe']} {' '.join(report['overrides'])}; seeds "
        f"{', '.join(map(str, report['seeds']))}; budget: {b.get('kind')} "
        f"{b.get('value', 0):.4g}{ref} (per seed: {per_seed})",
        "",
        tuning,
    ]


def drop_and_mask(entry: dict[str, Any]) -> tuple[str, str]:
    """A method entry's token dropping and masking as trained, in words (e.g. "0.75 random",
    "1 of clips x 0.5-0.7"): the part of a recipe a reader compares between methods."""
    lo, hi = entry["mask_ratio"]
    masked = f"{entry['mask_prob']:g} of clips x {lo:g}-{hi:g}" if entry["mask_prob"] else "none"
    return f"{entry['drop_ratio']:g} {entry['drop_pattern']}", masked


def _recipes(report: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Recipes as trained",
        "",
        "Peak lr: of the head and top block; ViDROP's and dense's lower blocks take the layer "
        "decay per block below the top, the patch embedding that times its own factor. Visible "
        "tokens: of a large clip, what the encoder sees in training (ViDROP's: its student's; "
        "the teacher, which the `vidrop` row reads, sees every token).",
        "",
        "| method | part | feature | peak lr | min lr | warmup | layer decay, patch-embed x | "
        "drop | masked | visible tokens | knob setting |",
        "|---|---|---|---:|---:|---:|---|---|---|---:|---|",
    ]
    for name, e in report["methods"].items():
        if name in FLOORS or "error" in e:
            continue
        drop, masked = drop_and_mask(e)
        knob = ", ".join(f"{k}={v}" for k, v in e["settings"].items()) or "(untuned)"
        lines.append(
            f"| {name} | {e['part']} | {e['feature']} | {e['peak_lr']:.3g} | {e['min_lr']:.3g} | "
            f"{e['warmup_share']:.0%} | {e['layerwise_decay']:g}, {e['patch_embed_lr_mult']:g} | "
            f"{drop} | {masked} | "
            f"{e['visible_tokens']} of {e['clip_tokens']} | {knob} |"
        )
    return lines


TRIALS_HEAD = [
    "| method | peak lr | knob setting | steps | train s | TFLOP | kNN | linear | score |",
    "|---|---:|---|---:|---:|---:|---:|---:|---:|",
]


def _tuning_cost(report: dict[str, Any]) -> list[str]:
    """Each method's tuning bill: its trials, and its finalists (one of which is its first
    seed's final run, so the finalists cost one budget more than the final runs alone)."""
    methods = {n: e for n, e in report["methods"].items() if ":" not in n and e.get("tuning")}
    if not any("tflop" in t for e in methods.values() for t in e["tuning"]):
        return []  # a report written before trials kept their cost
    lines = [
        "",
        "What tuning cost each method (training only; the held-out scoring is extra). One "
        "finalist is also the first seed's final run, counted again under Cost.",
        "",
        "| method | trials | trial TFLOP | trial s | finalist TFLOP | finalist s |",
    ]
    lines.append("|---|---:|---:|---:|---:|---:|")
    for name, e in methods.items():
        t, f = e["tuning"], e.get("finalists", [])
        total = [
            sum(x.get(k, 0.0) for x in group) for group in (t, f) for k in ("tflop", "seconds")
        ]
        lines.append(
            f"| {name} | {len(t)} | {total[0]:.3g} | {total[1]:.0f} | {total[2]:.3g} | "
            f"{total[3]:.0f} |"
        )
    return lines


def _tuning(report: dict[str, Any]) -> list[str]:
    lines = ["", "## Tuning trials (held-out training videos)", *_tuning_cost(report)]
    lines += ["", *TRIALS_HEAD]
    lrs = tuple(report["tuning"]["lrs"])
    for name, e in report["methods"].items():
        why = " (by the finalists)" if e.get("finalists") else ""
        for t in e.get("tuning", []) if ":" not in name else []:
            lines.append(_trial_row(name, e, t, lrs, why))
    if report["tuning"].get("finalists"):
        lines += ["", "## Finalists at the full budget (first seed, held-out training videos)", ""]
        lines += TRIALS_HEAD
        for name, e in report["methods"].items():
            for t in e.get("finalists", []) if ":" not in name else []:
                lines.append(_trial_row(name, e, t, lrs))
    return lines


def _trial_row(
    name: str, e: dict[str, Any], t: dict[str, Any], lrs: tuple[float, ...], why: str = ""
) -> str:
    """A trial's row; the method's choice marked (`why`: what chose it, where not this table)."""
    h = t["heldout"]
    knob = ", ".join(f"{k}={v}" for k, v in t["settings"].items())
    cells = f"{h['knn']:.1f} | {h['linear']:.1f} | {selection_score(h):.1f}" if h else "failed | |"
    mark = ""
    if t["settings"] == e["settings"] and t["lr"] == e["peak_lr"]:
        mark = " **chosen**" + why + (" (at the grid's edge)" if at_edge(t["lr"], lrs) else "")
    cost = f"{t['seconds']:.0f} | {t['tflop']:.3g}" if "tflop" in t else " | "
    return f"| {name} | {t['lr']:g} | {knob} | {t['steps']} | {cost} | {cells}{mark} |"


def _costs(report: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Cost",
        "",
        "Seed 0's run; the share of a seconds budget is the least any seed's run spent.",
        "",
        "| method | steps | pretrain s | share of budget s | clips/s | TFLOP | peak GiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in report["methods"].items():
        if name in FLOORS or ":" in name:
            continue
        if "error" in e:
            lines.append(f"| {name} | failed: {e['error']} | | | | | |")
            continue
        used = [s["budget_used"] for s in e["seeds"].values() if s.get("budget_used") is not None]
        share = f"{min(used):.1%}" + (" (under 97%)" if min(used) < 0.97 else "") if used else ""
        lines.append(
            f"| {name} | {e['steps']} | {e['pretrain_seconds']:.0f} | {share} | "
            f"{e['clips_per_s']:.0f} | {e['train_tflop']:.3g} | {e['peak_mem_gib']:.1f} |"
        )
    return lines


def _accuracy(report: dict[str, Any], metrics: list[str]) -> list[str]:
    seeds = report["seeds"]
    lines = [
        "",
        f"## Accuracy (mean ± std over {len(seeds)} seeds)",
        "",
        "| backbone | part | feature | " + " | ".join(metrics) + " |",
        "|---|---|---|" + "---:|" * len(metrics),
    ]
    for name, e in report["methods"].items():
        if e.get("summary"):
            cells = [_cell(e["summary"].get(k)) for k in metrics]
            row = f"| {name} | {e.get('part', '')} | {e.get('feature')} | "
            lines.append(row + " | ".join(cells) + " |")
    return lines


def _gains(report: dict[str, Any], metrics: list[str]) -> list[str]:
    lines = [
        "",
        "## Gains in points",
        "",
        "Mean ± std over the seeds, then the 95% paired bootstrap interval of the seed-averaged "
        "gain over the val videos (val-sample noise only, not the spread between seeds). Bold: "
        "one sign in every seed and an interval that excludes zero, what a claim needs.",
        "",
        "| comparison | " + " | ".join(metrics) + " |",
        "|---|" + "---:|" * len(metrics),
    ]
    for pair, g in report["gains"].items():
        cells = [_gain_cell(g[k]) if k in g else "" for k in metrics]
        lines.append(f"| {pair} | " + " | ".join(cells) + " |")
    return lines


def markdown(report: dict[str, Any]) -> str:
    m = report["methods"]
    metrics = list(next((e["summary"] for e in m.values() if e.get("summary")), {}))
    lines = _header(report) + _recipes(report)
    if report["tuning"]["lrs"]:
        lines += _tuning(report)
    lines += _costs(report) + _accuracy(report, metrics) + _gains(report, metrics)
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
    colours: dict[str, Any] = {}  # a method's line colour, the same for every seed
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
                drawn = ax.plot(xs, ys, marker="o", ms=3, color=colours.get(name), label=label)
                colours[name] = drawn[0].get_color()
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


def _gain_cell(g: dict[str, Any]) -> str:
    text = f"{g['mean']:+.1f} ± {g['std']:.1f} {format_bounds(g['pooled'])}"
    return f"**{text}**" if claim_holds(g) else text
