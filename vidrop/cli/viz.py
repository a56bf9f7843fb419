"""`vidrop viz pca`: the first three principal components of a video's patch features as RGB."""

from __future__ import annotations

import argparse

from vidrop.cli.common import UserError, command, group, out_folder, results
from vidrop.cli.eval import add_backbone, load


def cmd_viz_pca(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from vidrop.data.video import iter_frames
    from vidrop.eval.pca import pca_maps, save_pictures

    out = out_folder(args.out)
    model, _ = load(args)
    frames = torch.from_numpy(np.concatenate(list(iter_frames(args.video))))
    frames = frames[args.start :: args.stride][: args.frames]
    if len(frames) == 0:
        raise UserError(f"{args.video} has no frames from --start {args.start}")
    shown, maps = pca_maps(model, frames, args.short_side, args.shifts)
    saved = save_pictures(shown, maps, out / "pca", args.scale)
    results.print(f"wrote {saved['png']} and {saved['gif']} ({saved['frames']} feature frames)")


def register(sub: argparse._SubParsersAction) -> None:
    viz = group(sub, "viz", "pictures of what a backbone sees")
    pc = command(viz, "pca", "PCA of patch features as RGB: pca.png grid and pca.gif", cmd_viz_pca)
    add_backbone(pc)
    pc.add_argument("--video", required=True, help="a video file")
    pc.add_argument("--out", required=True, help="folder for pca.png and pca.gif")
    pc.add_argument("--frames", type=int, default=16, help="frames taken (after --stride)")
    pc.add_argument("--start", type=int, default=0, help="first frame")
    pc.add_argument("--stride", type=int, default=1, help="take every Nth frame")
    pc.add_argument(
        "--short-side",
        type=int,
        default=224,
        help="resize frames to this short side, pixels (0: keep): 224 gives a 14x14 "
        "grid of 16-pixel patches",
    )
    pc.add_argument("--shifts", type=int, default=2, help="n: an n-times finer feature grid")
    pc.add_argument("--scale", type=int, default=1, help="enlarge the pictures by this factor")
