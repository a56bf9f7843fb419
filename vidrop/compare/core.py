"""`vidrop compare`: several methods (ViDROP, the dense student, VideoMAE, one's own) pretrain the
same encoder on the same videos for the same compute, then every backbone (and random init, read
the way each method's backbone is read) goes through the same frozen suite.

The order of work, each step resumable:
1. the budget: the one given (steps, training seconds or counted TFLOP), or what the reference
   method's recipe costs at each seed;
2. each method's cost (seconds and FLOPs of a step of each config it trains) when the budget is
   not in steps;
3. tuning, the same for every method (vidrop.compare.tuning): the same trials, each a share of
   the budget, scored on held-out TRAINING videos, never val; then the best trial at each of the
   two best lrs trains the full budget (the first seed) and the better held-out score chooses;
4. every method trains the full budget at its chosen settings for each seed, scored by kNN on
   the val videos at `curve` points along the way;
5. `eval all` of every backbone of every seed, with paired gains; compare.json, .md and .png.
"""

from __future__ import annotations

import hashlib
import json
import logging
import traceback
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from vidrop.atomic import write_json_atomic, write_text_atomic
from vidrop.compare.budget import (
    Calibration,
    calibration_from,
    cost_key,
    step_flops,
    steps_for,
)
from vidrop.compare.report import FLOOR, write_reports
from vidrop.compare.runs import (
    MethodRun,
    export_every,
    run_key,
    sized,
    train_child,
    train_run,
)
from vidrop.compare.spec import Budget, CompareSpec
from vidrop.compare.tuning import (
    FINALISTS,
    MAX_WIDENINGS,
    Trial,
    choose,
    finalists,
    heldout_scores,
    refuse_tuned,
    trials,
    widened,
)
from vidrop.config import Config, ConfigError, config_yaml, load_config, split_overrides
from vidrop.data.manifest import read_manifest
from vidrop.eval.features import views_of_backbone
from vidrop.eval.suite import SuiteBackbone, run_suite
from vidrop.machine import resolve_device
from vidrop.methods import get_method, resolve_config
from vidrop.models.load import load_backbone
from vidrop.runlock import FolderLock
from vidrop.train.build import export_initial
from vidrop.train.sizing import size_run

log = logging.getLogger("vidrop")

# steps timed per config past its first epoch (whose steps decode videos the cache then keeps)
CALIBRATION_STEPS = 24


class Comparison:
    """The state of one comparison: configs, budgets, costs, tuning, runs and their results."""

    def __init__(self, spec: CompareSpec) -> None:
        if spec.reference not in spec.methods:
            raise ConfigError(f"--methods must include {spec.reference}: every gain is its own")
        if not 0 < spec.trial_share <= 1:
            raise ConfigError("a tuning trial's share of the budget must be in (0, 1]")
        if spec.lrs:
            refuse_tuned(spec.overrides)
        self.spec = spec
        self.device = resolve_device("auto")
        overrides = [f"data.train={spec.train}", *spec.overrides]
        # every method's config checked (transformers installed for videomae) before any work
        self.cfgs = {m: resolve_config(spec.recipe, overrides, method=m) for m in spec.methods}
        self.base = load_config(spec.recipe, split_overrides(overrides)[0])  # ViDROP's recipe
        self.train_set, self.val_set = read_manifest(spec.train), read_manifest(spec.val)
        both = set(self.train_set.paths) & set(self.val_set.paths)
        if both:
            raise ConfigError(
                f"{len(both)} videos are both training and val videos (first: {min(both)}); a "
                "comparison needs disjoint sets"
            )
        self.videos = len(self.train_set)
        self.calibrations: dict[str, Calibration] = {}  # by cost_key of a config
        self.flops: dict[str, float] = {}  # by cost_key of a config
        self.budgets: dict[int, Budget] = {}
        self.lrs = spec.lrs  # the tuning's grid: the asked one, widened where it cut short
        self.tuning: dict[str, list[dict[str, Any]]] = {}
        self.scored: dict[str, list[tuple[Trial, dict[str, float] | None]]] = {}  # the trials'
        self.finalists: dict[str, list[dict[str, Any]]] = {}  # continued to the full budget
        self.chosen: dict[str, Trial | None] = dict.fromkeys(spec.methods)
        self.runs: dict[int, dict[str, MethodRun]] = {}
        self.evals: dict[int, dict[str, Any]] = {}

    # -- costs ------------------------------------------------------------------------------
    def flops_of(self, cfg: Config) -> float:
        """FLOPs of one optimizer step of `cfg` (counted once per cost_key)."""
        key = cost_key(cfg)
        if key not in self.flops:
            self.flops[key] = step_flops(cfg, self.device)
        return self.flops[key]

    def calibrate(self, method: str, cfg: Config) -> Calibration:
        """Seconds of `cfg`'s first steps on the real data, and one step's FLOPs (measured once
        per cost_key: trials that differ only in lr share them)."""
        key = cost_key(cfg)
        if key in self.calibrations:
            return self.calibrations[key]
        folder = self.spec.runs_dir / f"calibrate-{method}-{key}"
        path = folder / "calibration.json"
        if path.exists():
            saved = json.loads(path.read_text())
            cal = Calibration(tuple(saved["seconds"]), saved["flops_per_step"])
        else:
            n = (size_run(cfg.optim, self.videos).epoch_length or 0) + CALIBRATION_STEPS
            scratch = sized(cfg, 10 * n, self.videos)
            folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(folder / "run.yaml", config_yaml(scratch))
            train_child(folder / "run.yaml", folder, f"calibrate {method}", n, stop=n)
            cal = calibration_from(str(folder / "metrics.jsonl"), self.flops_of(cfg))
            write_json_atomic(path, cal.to_dict())
        self.calibrations[key] = cal
        return cal

    # -- budgets ----------------------------------------------------------------------------
    def budget(self, seed: int) -> Budget:
        """This seed's budget: the one given, or what the reference's recipe costs: its steps
        times a step's counted FLOPs, or the seconds it took at this seed (trained by its own
        steps)."""
        if self.spec.budget is not None:
            return self.spec.budget
        if seed not in self.budgets:
            ref = self.spec.reference
            recipe = self.cfgs[ref]
            steps = size_run(recipe.optim, self.videos).total_steps
            if self.spec.match == "tflop":
                value = steps * self.flops_of(recipe) / 1e12
            else:
                label = f"{ref} recipe seed {seed}"
                value = self.train(ref, recipe, seed, Budget("steps", steps), label).seconds
            self.budgets[seed] = Budget(self.spec.match, value, reference=ref)
        return self.budgets[seed]

    def trial_budget(self) -> Budget:
        """A tuning trial's budget: the same share of the first seed's budget for everyone."""
        b = self.budget(self.spec.seeds[0])
        value = b.value * self.spec.trial_share
        return Budget(b.kind, max(1, round(value)) if b.kind == "steps" else value, b.reference)

    def run_config(
        self, method: str, cfg: Config, seed: int, budget: Budget, curve: bool
    ) -> Config:
        """`cfg` sized to what `budget` buys it, at `seed`: a seconds budget is also the run's
        train.budget_seconds (its schedule follows the measured pace) and hard limit."""
        cal = None  # what a step costs: its seconds (measured) only for a seconds budget
        if budget.kind == "seconds":
            cal = self.calibrate(method, cfg)
        elif budget.kind == "tflop":
            cal = Calibration((), self.flops_of(cfg))
        steps = steps_for(budget, cal)
        seconds = budget.value if budget.kind == "seconds" else 0.0
        points = export_every(steps, self.spec.curve) if curve else 0
        train = replace(cfg.train, seed=seed, budget_seconds=seconds, export_every=points)
        return sized(replace(cfg, train=train), steps, self.videos)

    # -- training ---------------------------------------------------------------------------
    def train(
        self, method: str, cfg: Config, seed: int, budget: Budget, label: str, curve: bool = False
    ) -> MethodRun:
        """Train (or find trained) `cfg` of `method` at `seed` under `budget`."""
        run_cfg = self.run_config(method, cfg, seed, budget, curve)
        folder = self.spec.runs_dir / f"{method}-s{seed}-{run_key(run_cfg)}"
        steps = size_run(run_cfg.optim, self.videos).total_steps
        data = (self.train_set, self.val_set, str(self.device)) if curve else None
        log.info(
            "%s: %d steps (%s budget %g) in %s", label, steps, budget.kind, budget.value, folder
        )
        return train_run(run_cfg, folder, steps, label, data, self.flops_of(cfg))

    def tune(self, method: str) -> None:
        """Every trial of `method` at the trial budget (the first seed), scored on held-out
        training videos; the best one is the method's choice until settle() judges the
        finalists at the full budget."""
        if not self.lrs:
            return
        cfg, m = self.cfgs[method], get_method(method)
        seed, budget = self.spec.seeds[0], self.trial_budget()
        results: list[tuple[Trial, dict[str, float] | None]] = []
        self.tuning[method] = []
        todo = trials(self.lrs, m.knob_settings(cfg, self.base))
        for i, trial in enumerate(todo, 1):
            label = f"{method} trial {i}/{len(todo)}: lr {trial.lr:g} {trial.settings}"
            scores, entry = self.scored_run(method, trial, seed, budget, label, f"trial{i}")
            results.append((trial, scores))
            self.tuning.setdefault(method, []).append(entry)
        self.scored[method] = results
        self.chosen[method] = choose(results)
        log.info("%s: chose %s by held-out kNN + linear", method, self.chosen[method])

    def settle(self, method: str) -> None:
        """The best trial at each of the FINALISTS best lrs trains the full budget at the first
        seed (that run is then the method's first final run), scored on held-out training
        videos as the trials were; the best of them is the method's choice (ties as the trials'
        on the whole grid; a winner at the grid's edge is marked in compare.md, the grid is not
        widened again). Nothing to settle where the trials already had the full budget or tried
        one lr."""
        results = self.scored.get(method, [])
        picks = finalists(results, FINALISTS) if results else []
        if self.spec.trial_share >= 1 or len(picks) < 2:
            return
        seed = self.spec.seeds[0]
        budget = self.budget(seed)
        scored: list[tuple[Trial, dict[str, float] | None]] = []
        self.finalists[method] = []
        for trial in picks:
            label = f"{method} finalist: lr {trial.lr:g} {trial.settings}"
            name = f"finalist-lr{trial.lr:g}"
            scores, entry = self.scored_run(method, trial, seed, budget, label, name, curve=True)
            scored.append((trial, scores))
            self.finalists[method].append(entry)
        if all(h is None for _, h in scored):
            raise RuntimeError(f"both finalists of {method} failed; see their runs' train.log")
        self.chosen[method] = choose(scored, own=results[0][0].settings, grid=self.lrs)
        log.info("%s: chose %s at the full budget", method, self.chosen[method])

    def scored_run(
        self,
        method: str,
        trial: Trial,
        seed: int,
        budget: Budget,
        label: str,
        name: str,
        curve: bool = False,
    ) -> tuple[dict[str, float] | None, dict[str, Any]]:
        """`trial` of `method` trained (or found) and scored on held-out training videos: its
        scores (None where it failed: recorded in OUT/METHOD-NAME.error.txt, never chosen) and
        its entry in compare.json."""
        cfg, run = trial.apply(self.cfgs[method]), None
        try:
            run = self.train(method, cfg, seed, budget, label, curve)
            scores: dict[str, float] | None = self.heldout(run, label)
        except Exception as exc:  # noqa: BLE001 - a failed trial is recorded, never chosen
            error = _failure(f"{method}-{name}", exc, self.spec.out)
            run, scores = run or MethodRun("", 0, error=error), None  # a trained run still cost
        cost = {  # what the tuning cost, in the budget's two measures
            "seconds": round(run.seconds, 1),
            "tflop": run.steps * self.flops_of(cfg) / 1e12 if run.steps else 0.0,
        }
        entry = {**trial.to_dict(), "heldout": scores, "steps": run.steps, **cost}
        return scores, {**entry, "run": run.folder}

    def heldout(self, run: MethodRun, label: str) -> dict[str, float]:
        """A run's held-out scores (cached beside it)."""
        path = Path(run.folder) / "heldout-folds.json"
        if not path.exists():
            log.info("%s: held-out kNN and linear on the training videos", label)
            scores = heldout_scores(Path(run.folder) / "export", self.train_set, str(self.device))
            write_json_atomic(path, scores)
        return json.loads(path.read_text())

    def final_config(self, method: str) -> Config:
        """The config the method's final runs train: its recipe, tuned."""
        chosen = self.chosen[method]
        return chosen.apply(self.cfgs[method]) if chosen else self.cfgs[method]

    # -- the whole comparison ---------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Every step of the comparison (each resumable), holding OUT's lock; returns
        compare.json's content."""
        with FolderLock(self.spec.out, self.spec.command):
            return self._run()

    def tune_all(self) -> dict[str, str]:
        """Every method tuned on one grid; while any method's best lr is at its edge (and at most
        MAX_WIDENINGS times) the grid grows that way and every method tunes again (trials done
        are found, not retrained). Returns the methods whose tuning failed, with why."""
        errors: dict[str, str] = {}
        for widening in range(MAX_WIDENINGS + 1):
            errors = {}
            for method in self.spec.methods:
                try:
                    self.tune(method)
                except Exception as exc:  # noqa: BLE001 - one method's failure is reported
                    errors[method] = _failure(method, exc, self.spec.out)
            best = [t.lr for m, t in self.chosen.items() if t and m not in errors]
            wider = widened(self.lrs, best)
            if wider == self.lrs or widening == MAX_WIDENINGS:
                break
            log.info("a chosen lr is at the grid's edge: every method also tries %s", wider)
            self.lrs = wider
        return errors

    def settle_all(self, errors: dict[str, str]) -> None:
        """settle() every method whose tuning did not fail; a failure joins `errors`."""
        for method in self.spec.methods:
            if method not in errors:
                try:
                    self.settle(method)
                except Exception as exc:  # noqa: BLE001 - one method's failure is reported
                    errors[method] = _failure(method, exc, self.spec.out)

    def _run(self) -> dict[str, Any]:
        errors = self.tune_all()
        self.settle_all(errors)
        for seed in self.spec.seeds:
            self.runs[seed] = {}
            for method in self.spec.methods:
                self.runs[seed][method] = self.final_run(method, seed, errors)
            self.evaluate(seed)
        return write_reports(self)

    def final_run(self, method: str, seed: int, errors: dict[str, str]) -> MethodRun:
        if method in errors:
            return MethodRun("", 0, error=errors[method])
        try:
            label = f"{method} seed {seed}"
            budget = self.budget(seed)
            return self.train(method, self.final_config(method), seed, budget, label, curve=True)
        except Exception as exc:  # noqa: BLE001
            return MethodRun("", 0, error=_failure(method, exc, self.spec.out))

    # -- evaluation -------------------------------------------------------------------------
    def suite_key(self) -> str:
        s = self.spec
        text = json.dumps([asdict(s.suite), s.clips, s.crops, s.train, s.val], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def backbones(self, seed: int) -> tuple[dict[str, SuiteBackbone], dict[str, Path]]:
        """The seed's trained backbones (each method's default part, and with all_parts the
        others as METHOD:PART) and their random-init floors, with cache files."""
        out, cache = {}, {}
        for method, run in self.runs[seed].items():
            if run.error:
                continue
            m, folder = get_method(method), Path(run.folder)
            parts = m.parts if self.spec.all_parts else m.parts[:1]
            for i, part in enumerate(parts):
                name = method if i == 0 else f"{method}:{part}"
                source = folder / "export" if i == 0 else folder / "checkpoint.pt"
                model, meta = load_backbone(source, part=part, with_meta=True)
                views = views_of_backbone(meta, model, self.spec.clips, self.spec.crops)
                out[name] = SuiteBackbone(model, views, "cls", FLOOR[m.feature])
                cache[name] = folder / f"eval-{part}-{self.suite_key()}.json"
        for name in sorted({b.floor for b in out.values() if b.floor}):
            folder, model, meta = self.floor(name, seed)
            views = views_of_backbone(meta, model, self.spec.clips, self.spec.crops)
            out[name] = SuiteBackbone(model, views, "cls")
            cache[name] = folder / f"eval-{self.suite_key()}.json"
        return out, cache

    def floor(self, name: str, seed: int) -> tuple[Path, Any, dict]:
        """Random init as a method starts, read as its backbone is: the first method (in
        --methods order) read by that feature, at its initial weights."""
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
        ref = self.spec.reference
        others = [b for b in backbones if b != ref and b not in FLOOR.values()]
        pairs = tuple((ref, b) for b in others) if ref in backbones else ()
        s, out = self.spec, self.spec.out / "eval" / f"seed{seed}"
        device = str(self.device)
        self.evals[seed] = run_suite(
            backbones,
            s.train,
            s.val,
            s.suite,
            out,
            s.command,
            device=device,
            pairs=pairs,
            cache=cache,
        )


def _failure(method: str, exc: BaseException, out: Path) -> str:
    """Log a method's failure (traceback to OUT/METHOD.error.txt); its one-line summary."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{method}.error.txt"
    write_text_atomic(path, "".join(traceback.format_exception(exc)))
    log.error("%s failed: %s (traceback in %s); the other methods go on", method, exc, path)
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
