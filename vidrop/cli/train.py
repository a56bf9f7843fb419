"""`vidrop pretrain`, `vidrop expand` and `vidrop export`: train, grow and export backbones."""

from __future__ import annotations

import argparse
import os

import yaml

from vidrop.cli.common import UserError, command, out_folder, overrides_argument, results
from vidrop.config import ARCHS, Config
from vidrop.progress import console

# flags people try on `pretrain`, and the override that does it
OVERRIDE_HINTS = {
    "--data": "data.train=PATH",
    "--store": "data.store=PATH",
    "--epochs": "optim.epochs=N",
    "--batch-size": "optim.batch_size=N",
    "--lr": "optim.base_lr=X",
    "--seed": "train.seed=N",
    "--device": "train.device=cuda",
}


def commented_yaml(cfg: Config) -> str:
    """The resolved config as YAML, each key with its meaning (vidrop.config_reference)."""
    from vidrop.config_reference import reference

    meaning = {key: text for key, _, text in reference()}
    out = []
    for section, values in cfg.to_dict().items():
        out.append(f"{section}:")
        for key, value in values.items():
            line = yaml.safe_dump({key: value}, default_flow_style=True, width=1000).strip()
            line = line.removeprefix("{").removesuffix("}")
            out.append(f"  {line:<40} # {meaning.get(f'{section}.{key}', '')}")
    return "\n".join(out)


def cmd_pretrain(args: argparse.Namespace) -> None:
    from vidrop.methods import resolve_config

    overrides = [*args.overrides, *([f"train.init={args.init}"] if args.init else [])]
    cfg = resolve_config(args.config, overrides)
    if args.print_config:
        from vidrop.train.inputs import count_training_videos
        from vidrop.train.sizing import size_run

        results.print(commented_yaml(cfg), markup=False, highlight=False)
        world = int(os.environ.get("WORLD_SIZE", "1"))
        results.print(f"# {size_run(cfg.optim, count_training_videos(cfg), world).describe()}")
        return
    if not args.out:
        raise UserError("give --out RUN_FOLDER (or --print-config to see the resolved config)")
    _train(cfg, out_folder(args.out))


def _train(cfg: Config, out) -> None:
    from vidrop import dist
    from vidrop.train.loop import pretrain

    try:
        result = pretrain(cfg, out)
        main_process = dist.is_main()
    finally:
        dist.shutdown()
    if main_process:
        results.print(f"done at step {result.step}; backbone export: {result.export}")
        console.print(
            f"next: vidrop eval all --backbone {result.export} --train TRAIN.csv --val VAL.csv "
            f"--out {out}/eval   (curves: {out}/curves.png; vidrop plot {out})"
        )


def cmd_export(args: argparse.Namespace) -> None:
    from vidrop.models.export import (
        ExportError,
        export_hf_videomae,
        export_hf_vjepa2,
        save_backbone,
    )
    from vidrop.models.load import load_backbone

    out = out_folder(args.out)
    backbone, meta = load_backbone(args.checkpoint, part=args.part, with_meta=True)
    if args.format in ("hf-videomae", "hf-vjepa2"):
        write = export_hf_videomae if args.format == "hf-videomae" else export_hf_vjepa2
        try:
            written = write(backbone, out, meta.get("eval"))
        except ExportError as exc:
            raise UserError(str(exc)) from exc
    else:
        extra = {"source": meta.get("source", args.checkpoint)}
        if "eval" in meta:
            extra["eval"] = meta["eval"]
        written = save_backbone(out, backbone, extra)
    results.print(f"exported the {meta['format']} backbone of {args.checkpoint} to {written}")


def cmd_expand(args: argparse.Namespace) -> None:
    from vidrop.train.expand import expand_run

    out = out_folder(args.out)
    grown = expand_run(
        args.checkpoint, args.to, out, args.seed, args.config, args.overrides, args.epochs
    )
    results.print(
        f"grown model in {grown}; train it with: vidrop pretrain --config "
        f"{grown}/config.yaml --out {grown}"
    )


def register(sub: argparse._SubParsersAction) -> None:
    t = command(
        sub,
        "pretrain",
        "pretraining with ViDROP, or train.method=dense|videomae (resumes when --out holds a run)",
        cmd_pretrain,
    )
    t.add_argument("--config", required=True, help="recipe name (tiny, vit_b, ...) or YAML path")
    t.add_argument("--out", help="run folder (a run already there resumes)")
    t.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved config with each key's meaning, and the run's size",
    )
    t.add_argument("--init", help="start from these weights (vidrop, VideoMAE, HF, V-JEPA)")
    overrides_argument(t, "the recipe, e.g. data.train=X")
    x = command(
        sub,
        "export",
        "backbone only: a vidrop export, or an HF VideoMAE or V-JEPA 2 folder",
        cmd_export,
    )
    x.add_argument("--checkpoint", required=True, help="RUN/checkpoint.pt, or any backbone")
    x.add_argument("--out", required=True, help="output folder")
    x.add_argument(
        "--format",
        default="vidrop",
        choices=["vidrop", "hf-videomae", "hf-vjepa2"],
        help="vidrop (exact, any backbone), hf-videomae or hf-vjepa2 (exact or refused)",
    )
    x.add_argument(
        "--part",
        default="teacher",
        choices=["teacher", "student"],
        help="which backbone of a training checkpoint",
    )
    e = command(sub, "expand", "grow a trained model wider/deeper, losslessly (LEMON)", cmd_expand)
    e.add_argument("--checkpoint", required=True, help="RUN/checkpoint.pt of the small model")
    e.add_argument("--to", required=True, choices=sorted(ARCHS), help="target size")
    e.add_argument("--out", required=True, help="new run folder (checkpoint.pt + config.yaml)")
    e.add_argument("--seed", type=int, default=0, help="seed of the new units' random weights")
    e.add_argument("--config", help="the stage's recipe (e.g. lemon_b): all but model, head, data")
    e.add_argument(
        "--epochs", type=float, help="the stage's length in epochs; warmups keep their share"
    )
    overrides_argument(e, "the stage")
