"""`vidrop compare`: ViDROP, the dense student and VideoMAE pretrain the same encoder on the same
videos for the same compute, then every backbone (and random init, read the way each method's
backbone is read) goes through the same frozen suite.

The order of work, each step resumable:
1. each method's cost is calibrated (seconds and FLOPs of a step) when the budget is not steps;
2. with `lr_grid`, each method's learning rate is chosen the same way: a grid of factors of its
   recipe's lr, scored by kNN on held-out TRAINING videos (never val), widened while the best
   factor is at an edge;
3. every method trains for each seed at its chosen lr and budget, scored by kNN on the val videos
   at `curve` points along the way;
4. `eval all` of every backbone of every seed, with paired gains; compare.json, .md and .png.
Without a budget ViDROP trains its recipe and the others get the seconds (or TFLOP) it took.
"""

from __future__ import annotations

import hashlib
import json
import logging
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from vidrop.atomic import write_json_atomic, write_text_atomic
from vidrop.compare.budget import Budget, Calibration, calibration_from, step_flops, steps_for
from vidrop.compare.runs import (
    MethodRun,
    export_every,
    heldout_knn,
    run_key,
    sized,
    train_child,
    train_run,
)
from vidrop.config import Config, ConfigError, config_yaml
from vidrop.data.manifest import read_manifest
from vidrop.eval.features import views_of_backbone
from vidrop.eval.settings import SuiteConfig
from vidrop.eval.suite import SuiteBackbone, run_suite
from vidrop.machine import resolve_device
from vidrop.methods import get_method, resolve_config
from vidrop.models.load import load_backbone
from vidrop.models.vit import VideoViT
from vidrop.train.build import export_initial
from vidrop.train.sizing import size_run

log = logging.getLogger("vidrop")

METHODS = ("vidrop", "dense", "videomae")
CALIBRATION_STEPS = 24  # per method, in a scratch run (its first steps decode, later ones cache)
MAX_WIDENINGS = 2  # an lr grid whose best factor is at an edge is widened at most this often
FLOOR = {"cls": "random_init", "mean": "random_init_mean"}  # a feature's random-init row


@dataclass
class CompareSpec:
    """What `vidrop compare` was asked."""

    train: str
    val: str
    out: Path
    methods: tuple[str, ...] = METHODS
    budget: Budget | None = None  # None: ViDROP's recipe, the others matched in `match`
    match: str = "seconds"  # seconds | tflop
    recipe: str = "tiny"
    overrides: list[str] = field(default_factory=list)
    seeds: tuple[int, ...] = (0,)
    curve: int = 0  # kNN on val at this many points along each budget
    lr_grid: tuple[float, ...] = ()  # factors of each method's recipe lr; () keeps the recipe's
    clips: int = 1
    crops: int = 1
    suite: SuiteConfig = field(default_factory=SuiteConfig)
    runs: Path | None = None  # run folders (default OUT/runs); may be shared by comparisons
    command: str = "vidrop compare"

    @property
    def runs_dir(self) -> Path:
        return self.runs or self.out / "runs"


class Comparison:
    """The state of one comparison: configs, calibrations, budgets, runs and their results."""

    def __init__(self, spec: CompareSpec) -> None:
        if "vidrop" not in spec.methods:
            raise ConfigError("--methods must include vidrop: every gain is ViDROP's")
        self.spec = spec
        self.device = resolve_device("auto")
        overrides = [f"data.train={spec.train}", *spec.overrides]
        # every method's config checked (transformers installed for videomae) before any work
        self.cfgs = {m: resolve_config(spec.recipe, overrides, method=m) for m in spec.methods}
        self.base = self.cfgs["vidrop"]
        self.train_set, self.val_set = read_manifest(spec.train), read_manifest(spec.val)
        self.videos = len(self.train_set)
        self.calibrations: dict[str, Calibration] = {}
        self.lr_factor = {m: 1.0 for m in spec.methods}
        self.lr_grid: dict[str, list[dict[str, Any]]] = {}
        self.runs: dict[int, dict[str, MethodRun]] = {}
        self.budgets: dict[int, Budget] = {}
        self.flops: dict[str, float] = {}
        self.evals: dict[int, dict[str, Any]] = {}

    # -- costs ------------------------------------------------------------------------------
    def calibrate(self, method: str) -> Calibration:
        """Seconds of the method's first steps on the real data, and one step's FLOPs."""
        if method in self.calibrations:
            return self.calibrations[method]
        cfg = sized(self.cfgs[method], 10 * CALIBRATION_STEPS, self.videos)
        folder = self.spec.runs_dir / f"calibrate-{method}-{run_key(cfg)}"
        path = folder / "calibration.json"
        if path.exists():
            saved = json.loads(path.read_text())
            cal = Calibration(tuple(saved["seconds"]), saved["flops_per_step"])
        else:
            config = folder / "run.yaml"
            folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(config, config_yaml(cfg))
            n = CALIBRATION_STEPS
            train_child(config, folder, f"calibrate {method}", n, stop=n)
            cal = calibration_from(str(folder / "metrics.jsonl"), step_flops(cfg, self.device))
            write_json_atomic(path, cal.to_dict())
        self.calibrations[method] = cal
        self.flops[method] = cal.flops_per_step
        return cal

    def steps_and_limit(self, method: str, budget: Budget) -> tuple[int, float]:
        """(steps, train.max_seconds) of a method under `budget`."""
        cal = None if budget.kind == "steps" else self.calibrate(method)
        if budget.kind == "steps" and method not in self.flops:
            self.flops[method] = step_flops(self.cfgs[method], self.device)
        return steps_for(budget, cal), budget.value if budget.kind == "seconds" else 0.0

    def recipe_steps(self) -> int:
        return size_run(self.base.optim, self.videos).total_steps

    # -- training ---------------------------------------------------------------------------
    def run_config(self, method: str, seed: int, factor: float, steps: int, limit: float) -> Config:
        cfg = self.cfgs[method]
        points = export_every(steps, self.spec.curve)
        cfg = replace(
            cfg,
            optim=replace(cfg.optim, base_lr=cfg.optim.base_lr * factor),
            train=replace(cfg.train, seed=seed, max_seconds=limit, export_every=points),
        )
        return sized(cfg, steps, self.videos)

    def train(
        self, method: str, seed: int, factor: float, budget: Budget, curve: bool
    ) -> MethodRun:
        """Train (or find trained) one method at one seed and lr factor under `budget`."""
        steps, limit = self.steps_and_limit(method, budget)
        cfg = self.run_config(method, seed, factor, steps, limit)
        folder = self.spec.runs_dir / f"{method}-s{seed}-{run_key(cfg)}"
        data = (self.train_set, self.val_set, str(self.device)) if curve else None
        label = f"{method} seed {seed} lr x{factor:g}"
        log.info(
            "%s: %d steps (%s budget %g%s) in %s",
            label,
            steps,
            budget.kind,
            budget.value,
            f", stops at {limit:g} s" if limit else "",
            folder,
        )
        return train_run(cfg, folder, steps, label, data, self.flops[method])

    def reference(self, seed: int) -> Budget:
        """This seed's budget: the one given, or what ViDROP's recipe took at this seed."""
        if self.spec.budget is not None:
            return self.spec.budget
        if seed not in self.budgets:
            steps = Budget("steps", self.recipe_steps())
            run = self.train("vidrop", seed, self.lr_factor["vidrop"], steps, curve=False)
            value = (
                run.seconds
                if self.spec.match == "seconds"
                else run.steps * self.flops["vidrop"] / 1e12
            )
            self.budgets[seed] = Budget(self.spec.match, value, reference="vidrop")
        return self.budgets[seed]

    def budget_for(self, method: str, seed: int) -> Budget:
        """ViDROP's own recipe when it is the reference; otherwise the seed's budget."""
        if method == "vidrop" and self.spec.budget is None:
            return Budget("steps", self.recipe_steps())
        return self.reference(seed)

    # -- learning rates ---------------------------------------------------------------------
    def choose_lr(self, method: str) -> None:
        """The lr factor with the best held-out kNN on the training videos, the grid widened
        (by the grid's own ratio) while the best factor is at an edge."""
        factors = sorted(self.spec.lr_grid)
        if not factors:
            return
        seed, scores = self.spec.seeds[0], {}
        ratio = factors[-1] / factors[-2] if len(factors) > 1 else 3.0
        for _ in range(MAX_WIDENINGS + 1):
            for f in factors:
                if f not in scores:
                    run = self.train(method, seed, f, self.budget_for(method, seed), curve=False)
                    export = Path(run.folder) / "export"
                    scores[f] = heldout_knn(export, self.train_set, str(self.device))
                    self.lr_grid.setdefault(method, []).append(
                        {
                            "factor": f,
                            "lr": self.cfgs[method].optim.base_lr * f,
                            "heldout_knn": scores[f],
                            "run": run.folder,
                        }
                    )
            best = max(sorted(scores), key=lambda f: (scores[f], -abs(f - 1.0)))
            if best == min(scores):
                factors = [best / ratio]
            elif best == max(scores):
                factors = [best * ratio]
            else:
                break
        self.lr_factor[method] = best
        log.info(
            "%s: lr x%g chosen by held-out kNN (%s)",
            method,
            best,
            ", ".join(f"x{f:g} {a:.1f}" for f, a in sorted(scores.items())),
        )

    # -- the whole comparison ---------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Every step of the comparison (each resumable); returns compare.json's content."""
        errors: dict[str, str] = {}
        for method in self.spec.methods:  # ViDROP first: in reference mode it sets the budget
            try:
                self.choose_lr(method)
            except Exception as exc:  # noqa: BLE001 - one method's failure is reported, not fatal
                errors[method] = _failure(method, exc, self.spec.out)
        for seed in self.spec.seeds:
            self.runs[seed] = {}
            for method in self.spec.methods:
                if method in errors:
                    self.runs[seed][method] = MethodRun("", 0, error=errors[method])
                    continue
                try:
                    budget = self.budget_for(method, seed)
                    self.runs[seed][method] = self.train(
                        method, seed, self.lr_factor[method], budget, curve=True
                    )
                except Exception as exc:  # noqa: BLE001
                    error = _failure(method, exc, self.spec.out)
                    self.runs[seed][method] = MethodRun("", 0, error=error)
            self.evaluate(seed)
        from vidrop.compare.report import write_reports

        return write_reports(self)

    # -- evaluation -------------------------------------------------------------------------
    def suite_key(self) -> str:
        s = self.spec
        text = json.dumps([asdict(s.suite), s.clips, s.crops, s.train, s.val], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def backbones(self, seed: int) -> tuple[dict[str, SuiteBackbone], dict[str, Path]]:
        """The seed's trained backbones and their random-init floors, with cache files."""
        out, cache = {}, {}
        for method, run in self.runs[seed].items():
            if run.error:
                continue
            model, meta = load_backbone(Path(run.folder) / "export", with_meta=True)
            floor = FLOOR[get_method(method).feature]
            views = views_of_backbone(meta, model, self.spec.clips, self.spec.crops)
            out[method] = SuiteBackbone(model, views, "cls", floor)
            cache[method] = Path(run.folder) / f"eval-{self.suite_key()}.json"
        floors = {b.floor for b in out.values()}
        for name in sorted(floors):
            folder, model, meta = self.floor(name, seed)
            views = views_of_backbone(meta, model, self.spec.clips, self.spec.crops)
            out[name] = SuiteBackbone(model, views, "cls")
            cache[name] = folder / f"eval-{self.suite_key()}.json"
        return out, cache

    def floor(self, name: str, seed: int) -> tuple[Path, VideoViT, dict]:
        """Random init as each method starts, read as the method's backbone is: the first
        method (in --methods order) read by that feature, at its initial weights."""
        feature = next(f for f, n in FLOOR.items() if n == name)
        method = next(m for m in self.spec.methods if get_method(m).feature == feature)
        cfg = replace(self.cfgs[method], train=replace(self.cfgs[method].train, seed=seed))
        folder = self.spec.runs_dir / f"{name}-s{seed}-{run_key(cfg)}"
        if not (folder / "export").exists():
            export_initial(cfg, folder / "export")
        model, meta = load_backbone(folder / "export", with_meta=True)
        return folder, model, meta

    def evaluate(self, seed: int) -> None:
        backbones, cache = self.backbones(seed)
        if not backbones:
            self.evals[seed] = {"backbones": {}}
            return
        pairs = tuple(
            ("vidrop", m)
            for m in self.spec.methods
            if m != "vidrop" and m in backbones and "vidrop" in backbones
        )
        report = run_suite(
            backbones,
            self.spec.train,
            self.spec.val,
            self.spec.suite,
            self.spec.out / "eval" / f"seed{seed}",
            self.spec.command,
            device=str(self.device),
            pairs=pairs,
            cache=cache,
        )
        self.evals[seed] = report


def _failure(method: str, exc: BaseException, out: Path) -> str:
    """Log a method's failure (traceback to OUT/METHOD.error.txt); its one-line summary."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{method}.error.txt"
    write_text_atomic(path, "".join(traceback.format_exception(exc)))
    log.error("%s failed: %s (traceback in %s); the other methods go on", method, exc, path)
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
