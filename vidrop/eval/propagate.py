"""DAVIS-protocol label propagation with frozen patch features (DINO's video segmentation eval).

The first frame's ground-truth mask is given (sampled to the feature grid, nearest: hard labels);
every later frame's labels are a weighted vote of the `topk` most similar feature cells among the
first frame and the `context` previous frames, within `radius` cells, weights
exp(cosine / temperature). Labels stay soft at feature resolution; for scoring they are upsampled
(bilinear), each label's map is rescaled to [0, 1] and the largest wins. Every default and step is
DINO's `eval_video_segmentation.py` (topk 5, 7 previous frames, radius 12, temperature 0.1). A
video ViT has one feature map per tubelet (2 frames); both frames of a tubelet share it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vidrop.data.video import resize_frames, resize_short_side
from vidrop.data.views import normalize
from vidrop.eval.errors import EvalError
from vidrop.eval.segmentation_metrics import boundary_f, region_j
from vidrop.eval.settings import PropagationConfig
from vidrop.models.vit import VideoViT
from vidrop.progress import ProgressBar


@dataclass
class Sequence:
    name: str
    frames: torch.Tensor  # uint8 (T, H, W, 3)
    masks: torch.Tensor  # int64 (T, H, W): 0 background, 1..K objects


@dataclass
class PropagationResult:
    jf_mean: float
    j_mean: float
    f_mean: float
    sequences: int
    objects: int
    skipped: list[str]  # sequences with nothing to track in the first frame
    per_sequence: dict[str, dict]


MAX_TOKENS = 16384  # tokens per forward pass: a whole synthetic video, one 480p DAVIS clip


def _chunk_tokens(
    backbone: VideoViT,
    frames: torch.Tensor,
    device: str,
    max_tokens: int = MAX_TOKENS,
    chunk: int = 0,
) -> torch.Tensor:
    """uint8 (T, H, W, 3), T a multiple of the clip length `chunk` (0: the backbone's training
    clip) -> patch tokens (T/tubelet, h, w, D). Clips go through the backbone in groups of at
    most `max_tokens` tokens (at least one clip): a 100-frame DAVIS video at 480p is 7 clips of
    ~12,700 tokens, too many for one batch."""
    cfg = backbone.cfg
    p, chunk = cfg.patch_size, chunk or cfg.num_frames
    t, h, w = frames.shape[:3]
    gh, gw = h // p, w // p  # the token grid of a frame
    clips = frames.view(t // chunk, chunk, h, w, 3).permute(0, 4, 1, 2, 3)
    group = max(1, max_tokens // (chunk // cfg.tubelet * gh * gw))
    tokens = torch.cat(
        [
            backbone.forward_features(normalize(clips[i : i + group].to(device)))["patch"].float()
            for i in range(0, len(clips), group)
        ]
    )
    return tokens.reshape(t // cfg.tubelet, gh, gw, -1)


@torch.no_grad()
def frame_features(
    backbone: VideoViT,
    frames: torch.Tensor,
    short_side: int = 0,
    device: str = "cpu",
    shifts: int = 1,
    max_tokens: int = MAX_TOKENS,
    per_frame: bool = False,
) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> unit-length patch features (T, h, w, D), one map per frame.

    The video runs through the backbone in chunks of its training clip length (the last chunk
    padded with the last frame); sides are cropped to multiples of the patch size. With
    `per_frame` each frame runs alone, repeated into a clip of one tubelet (the paper's DAVIS
    protocol, after DINO's frame-by-frame one): its own map, nothing seen of its neighbours. With
    `shifts` = n > 1 the frames also run shifted by multiples of patch/n pixels (edges replicated)
    and the token maps interleave into an n-times finer grid whose cells are centred like a
    stride patch/n grid's: finer labels at the scale the model was trained on, for n^2 the cost."""
    cfg = backbone.cfg
    frames = resize_short_side(frames, short_side)
    p, tub, chunk = cfg.patch_size, cfg.tubelet, cfg.num_frames
    t, h, w = frames.shape[:3]
    frames = frames[:, : h // p * p, : w // p * p]
    h, w = h // p * p, w // p * p
    if per_frame:
        frames, chunk = frames.repeat_interleave(tub, dim=0), tub
    pad = -frames.shape[0] % chunk
    if pad:
        frames = torch.cat((frames, frames[-1:].expand(pad, -1, -1, -1)))
    backbone.eval().to(device)
    if shifts == 1:
        grid = _chunk_tokens(backbone, frames, device, max_tokens, chunk)
    else:
        step = p // shifts
        if step * shifts != p or step % 2:
            raise EvalError(f"shifts={shifts} must split the patch size {p} into even steps")
        padded = F.pad(frames.permute(0, 3, 1, 2).float(), (p, p, p, p), mode="replicate")
        padded = padded.to(torch.uint8).permute(0, 2, 3, 1)
        grid = torch.empty(0)  # made at the first crop, once its token width is known
        for oy in range(shifts):
            for ox in range(shifts):
                # token i of this crop is centred on original pixel (o*step + step/2 + i*p)
                y0, x0 = p // 2 + step // 2 + oy * step, p // 2 + step // 2 + ox * step
                crop = padded[:, y0 : y0 + h, x0 : x0 + w]
                tok = _chunk_tokens(backbone, crop, device, max_tokens, chunk)
                if oy == ox == 0:
                    grid = tok.new_empty(tok.shape[0], h // step, w // step, tok.shape[-1])
                grid[:, oy::shifts, ox::shifts] = tok
    maps = grid[:t] if per_frame else grid.repeat_interleave(tub, dim=0)[:t]
    return F.normalize(maps, dim=-1).cpu()


def _neighbourhood(h: int, w: int, radius: int) -> torch.Tensor:
    """Bool (h*w, h*w): cell pairs within `radius` cells (Chebyshev distance)."""
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    return ((ys[:, None] - ys[None]).abs() <= radius) & ((xs[:, None] - xs[None]).abs() <= radius)


def propagate(feats: torch.Tensor, first: torch.Tensor, cfg: PropagationConfig) -> torch.Tensor:
    """feats (T, h, w, D) unit length, first (K+1, h, w) soft labels -> (T, K+1, h, w)."""
    t, h, w, d = feats.shape
    near = _neighbourhood(h, w, cfg.radius)
    flat = feats.reshape(t, h * w, d)
    labels = [first.reshape(first.shape[0], h * w)]
    for i in range(1, t):
        sources = [0, *range(max(1, i - cfg.context), i)]
        src = flat[sources]  # (S, hw, D)
        aff = torch.einsum("nd,smd->nsm", flat[i], src)  # target cell x source frame x cell
        aff = aff.masked_fill(~near[:, None, :], float("-inf")).flatten(1)
        k = min(cfg.topk, aff.shape[1])
        top, idx = aff.topk(k, dim=1)
        weight = (top / cfg.temperature).softmax(1)  # (hw, k)
        src_labels = torch.stack([labels[s] for s in sources], 1).flatten(1)  # (K+1, S*hw)
        labels.append((src_labels[:, idx] * weight).sum(-1))
    return torch.stack(labels).view(t, -1, h, w)


def first_labels(mask: torch.Tensor, n_labels: int, h: int, w: int) -> torch.Tensor:
    """int (H, W) -> one-hot (n_labels, h, w): the label at each cell's centre pixel (DINO resizes
    the first mask to the feature grid with nearest-neighbour sampling)."""
    small = F.interpolate(mask[None, None].float(), size=(h, w), mode="nearest-exact")
    return F.one_hot(small[0, 0].long(), n_labels).permute(2, 0, 1).float()


def rescale_labels(soft: torch.Tensor) -> torch.Tensor:
    """(..., K, H, W) -> each label's map min-max scaled to [0, 1] (an all-zero map stays zero),
    as DINO does before the argmax: a label whose votes faded over the frames still wins where it
    is strongest relative to its own range."""
    lo, hi = soft.amin((-2, -1), keepdim=True), soft.amax((-2, -1), keepdim=True)
    return torch.where(hi > 0, (soft - lo) / (hi - lo).clamp_min(1e-12), soft)


def first_frame_objects(masks: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """Masks (T, H, W) with labels absent from the first frame made background, and the first
    frame's objects (DAVIS tracks what the first frame shows)."""
    objects = [o for o in torch.unique(masks[0]).tolist() if o != 0]
    return torch.where(torch.isin(masks, torch.tensor(objects)), masks, 0), objects


def predict_labels(
    feats: torch.Tensor, masks: torch.Tensor, cfg: PropagationConfig
) -> torch.Tensor:
    """Propagate the first frame of `masks` (T, H, W; made by `first_frame_objects`) with
    unit-length features (T, h, w, D): the predicted label map (T, H, W). Features need not come
    from a backbone: diagnostics propagate colour or oracle features the same way
    (scripts/propagation_diagnosis.py)."""
    h, w = feats.shape[1:3]
    soft = propagate(feats, first_labels(masks[0], int(masks.max()) + 1, h, w), cfg)
    full = F.interpolate(soft, size=masks.shape[1:], mode="bilinear", align_corners=False)
    return rescale_labels(full).argmax(1)


def score_features(feats: torch.Tensor, masks: torch.Tensor, cfg: PropagationConfig) -> dict:
    """`jf_scores` of the first frame's objects propagated with `feats` over `masks`."""
    masks, objects = first_frame_objects(masks)
    return jf_scores(predict_labels(feats, masks, cfg), masks, objects)


def jf_scores(pred: torch.Tensor, masks: torch.Tensor, objects: list[int]) -> dict:
    """Per object, J and F of predicted labels (T, H, W) averaged over frames 1..T-2 (DAVIS
    leaves out the given first frame and the last), and J&F over the objects."""
    t = len(masks)
    frames = range(1, t - 1) if t > 2 else range(1, t)
    js = [sum(region_j(pred[i] == o, masks[i] == o) for i in frames) / len(frames) for o in objects]
    fs = [
        sum(boundary_f(pred[i] == o, masks[i] == o) for i in frames) / len(frames) for o in objects
    ]
    return {"j": js, "f": fs, "jf": (sum(js) + sum(fs)) / (2 * len(objects))}


def fit_to_patches(frames: torch.Tensor, patch: int) -> torch.Tensor:
    """uint8 (T, H, W, 3) resized so that each side is a multiple of `patch` (floored, at least
    one patch). Label propagation resizes rather than crops, as DINO does (it floors to multiples
    of 64): the feature grid then spans the whole frame that the masks describe, so labels
    upsampled to the masks' size land where their cells looked (a 854-pixel DAVIS frame cropped
    to 848 would shift them by up to 6 pixels)."""
    h, w = frames.shape[1:3]
    return resize_frames(frames, (max(patch, h // patch * patch), max(patch, w // patch * patch)))


def evaluate_sequence(
    backbone: VideoViT, seq: Sequence, cfg: PropagationConfig, device: str = "cpu"
) -> dict:
    """J and F of one sequence with the backbone's patch features (see `score_features`)."""
    frames = fit_to_patches(resize_short_side(seq.frames, cfg.short_side), backbone.cfg.patch_size)
    feats = frame_features(backbone, frames, 0, device, cfg.shifts, per_frame=cfg.per_frame)
    return score_features(feats, seq.masks, cfg)


def evaluate_propagation(
    backbone: VideoViT,
    sequences: Iterable[Sequence],
    total: int,
    cfg: PropagationConfig = PropagationConfig(),
    device: str = "cpu",
    description: str = "propagation",
) -> PropagationResult:
    """DAVIS-style means in percent: J and F averaged over all objects, J&F their mean. A sequence
    whose first frame shows no object has nothing to track: it is skipped and counted."""
    per_seq, js, fs, skipped = {}, [], [], []
    with ProgressBar(total, description, unit="video") as bar:
        for seq in sequences:
            bar.update(1)
            if int(seq.masks[0].max()) == 0 or seq.frames.shape[0] < 2:
                skipped.append(seq.name)
                continue
            r = evaluate_sequence(backbone, seq, cfg, device)
            per_seq[seq.name] = r
            js += r["j"]
            fs += r["f"]
    if not per_seq:
        raise EvalError(
            f"label propagation got no usable sequence ({len(skipped)} had an empty first mask "
            "or a single frame)"
        )
    j, f = 100 * sum(js) / len(js), 100 * sum(fs) / len(fs)
    return PropagationResult((j + f) / 2, j, f, len(per_seq), len(js), skipped, per_seq)
