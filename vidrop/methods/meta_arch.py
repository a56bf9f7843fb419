"""Student and teacher (backbone + DINO head for CLS + separate head for patches) and the ViDROP
loss of one batch. The teacher sees the large clips densely; the student sees the large clips with
most tokens dropped and some kept tokens masked, plus the small clips densely."""

from __future__ import annotations

import copy
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from vidrop import dist
from vidrop.config import HeadConfig, LossConfig
from vidrop.data.views import clip_major
from vidrop.losses import SoftmaxCenter, dino_loss, ibot_masked_loss, koleo_loss, sinkhorn_knopp
from vidrop.methods.base import LossTerms
from vidrop.models.heads import DINOHead
from vidrop.models.vit import VideoViT, ViTConfig
from vidrop.tokens import TokenGrid, TokenPlan


def build_student(model: ViTConfig, head: HeadConfig) -> nn.ModuleDict:
    """Backbone, DINO head (CLS) and iBOT head (patches); with head.shared the patches go
    through the DINO head and there is no iBOT head."""
    backbone = VideoViT(model)
    d = backbone.embed_dim
    parts = {
        "backbone": backbone,
        "dino_head": DINOHead(
            d, head.prototypes, head.hidden_dim, head.bottleneck_dim, head.nlayers
        ),
    }
    if not head.shared:
        parts["ibot_head"] = DINOHead(
            d, head.patch_prototypes, head.hidden_dim, head.bottleneck_dim, head.nlayers
        )
    return nn.ModuleDict(parts)


def backbone_of(part: nn.ModuleDict) -> VideoViT:
    """The backbone of a student or teacher (typed: a ModuleDict entry is any Module)."""
    return cast(VideoViT, part["backbone"])


def patch_head(part: nn.ModuleDict) -> nn.Module:
    """The head of a student or teacher that scores patch tokens (iBOT's, or the shared one)."""
    return part["ibot_head"] if "ibot_head" in part else part["dino_head"]


class ViDROP(nn.Module):
    def __init__(self, model: ViTConfig, head: HeadConfig, loss: LossConfig) -> None:
        super().__init__()
        self.loss_cfg = loss
        self.student = build_student(model, head)
        self.teacher = copy.deepcopy(self.student)
        self.teacher.requires_grad_(False)
        if loss.centering == "softmax":
            self.dino_center = SoftmaxCenter(head.prototypes, loss.center_momentum)
            self.ibot_center = SoftmaxCenter(head.patch_prototypes, loss.center_momentum)

    def train(self, mode: bool = True) -> ViDROP:
        super().train(mode)
        self.teacher.eval()  # the teacher never uses drop path
        return self

    def _center(self, logits: torch.Tensor, temp: float, which: str) -> torch.Tensor:
        if self.loss_cfg.centering == "sinkhorn":
            return sinkhorn_knopp(logits, temp, self.loss_cfg.sinkhorn_iters)
        center: SoftmaxCenter = getattr(self, f"{which}_center")
        return cast(torch.Tensor, center(logits, temp))

    @torch.no_grad()
    def teacher_targets(
        self,
        large: torch.Tensor,
        keep: torch.Tensor,
        masked: tuple[torch.Tensor, torch.Tensor],
        n_large: int,
        temp: float,
    ) -> tuple[list[torch.Tensor], torch.Tensor, dict[str, torch.Tensor]]:
        """Centred teacher probabilities: CLS per large clip, and patches at the student's masked
        positions (keep at the masked (clip, kept position) indexes the teacher's dense grid)."""
        out = backbone_of(self.teacher).forward_features(large)
        cls_probs = self._center(self.teacher["dino_head"](out["cls"]), temp, "dino")
        clip_idx, kept_pos = masked
        targets = out["patch"][clip_idx, keep[clip_idx, kept_pos]]
        patch_probs = self._center(patch_head(self.teacher)(targets), temp, "ibot")
        entropy = -(cls_probs * cls_probs.clamp_min(1e-12).log()).sum(-1).mean()
        usage = cls_probs.mean(0)
        stats = {
            "teacher_entropy": entropy,
            "teacher_usage": -(usage * usage.clamp_min(1e-12).log()).sum(),
        }
        return list(cls_probs.chunk(n_large)), patch_probs, stats

    def forward(
        self,
        large: torch.Tensor,
        small: torch.Tensor,
        plan: TokenPlan,
        teacher_temp: float,
    ) -> LossTerms:
        """large (B, L, C, T, H, W) and small (B, M, C, t, h, w) normalised views; the plan's
        kept indices and masks are (L*B, K) in clip-major order (see clip_major), and its
        `index` the (clip, kept position) of each token the iBOT loss scores."""
        cfg = self.loss_cfg
        n_large = large.shape[1]
        large_flat = clip_major(large)
        t_cls, t_patch, stats = self.teacher_targets(
            large_flat, plan.keep, plan.index, n_large, teacher_temp
        )
        s = backbone_of(self.student).forward_features(large_flat, plan.keep, plan.masks)
        dino_global, dino_local = self.dino_terms(s["cls"], small, t_cls)
        ibot = ibot_masked_loss(
            patch_head(self.student)(s["patch"][plan.index]),
            t_patch,
            plan.scored,
            cfg.student_temp,
            token_clip=plan.index[0],
        )
        # over the GLOBAL batch: identical on every rank, so data parallelism keeps it exact
        koleo = cast(
            torch.Tensor,
            sum(koleo_loss(dist.all_gather_with_grad(c)) for c in s["cls"].chunk(n_large)),
        )
        dino = dino_global + dino_local
        loss = cfg.dino_weight * dino + cfg.ibot_weight * ibot + cfg.koleo_weight * koleo
        with torch.no_grad():
            feats = F.normalize(s["cls"].float(), dim=-1)
            terms = {
                "dino_global_loss": dino_global,
                "dino_local_loss": dino_local,
                "ibot_loss": ibot,
                "koleo_loss": koleo,
            }
            logs = {
                "loss": loss.detach(),
                **{k: v.detach() for k, v in terms.items()},
                "cls_std": feats.std(0).mean(),
                **stats,
                **self.token_counts(large, small, plan),
            }
        return LossTerms(loss, logs)

    def token_counts(
        self, large: torch.Tensor, small: torch.Tensor, plan: TokenPlan
    ) -> dict[str, torch.Tensor]:
        """Tokens the student and teacher saw (CLS included), and how many were masked."""
        n_clips, n_small = large.shape[0] * large.shape[1], small.shape[0] * small.shape[1]
        kept = n_clips * (plan.keep.shape[1] + 1) + n_small * (self.clip_tokens(small) + 1)
        return {
            "student_tokens": torch.tensor(kept),
            "masked_tokens": plan.masks.sum(),
            "teacher_tokens": torch.tensor(n_clips * (self.clip_tokens(large) + 1)),
        }

    def clip_tokens(self, views: torch.Tensor) -> int:
        """Patch tokens of one clip of (B, n, C, T, H, W) views."""
        cfg = backbone_of(self.student).cfg
        size = (int(views.shape[-2]), int(views.shape[-1]))
        return TokenGrid.of_clip(int(views.shape[-3]), size, cfg.tubelet, cfg.patch_size).numel

    def dino_terms(
        self, large_cls: torch.Tensor, small: torch.Tensor, t_cls: list[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The DINO loss's global term (each large clip against the other large clips' teacher
        targets) and local term (each small clip against every large one), both divided by the
        number of pairs. The small clips run through the student here, densely."""
        temp = self.loss_cfg.student_temp
        n_large, n_small = len(t_cls), small.shape[1]
        cls = [large_cls]
        if n_small:
            cls.append(backbone_of(self.student).forward_features(clip_major(small))["cls"])
        logits = self.student["dino_head"](torch.cat(cls))
        s_large = list(logits[: large_cls.shape[0]].chunk(n_large))
        s_small = list(logits[large_cls.shape[0] :].chunk(n_small)) if n_small else []
        n_terms = n_large * (n_large - 1) + n_small * n_large
        others = [[t for j, t in enumerate(t_cls) if j != i] for i in range(n_large)]
        terms = sum(dino_loss([s_large[i]], others[i], temp) for i in range(n_large))
        dino_global = cast(torch.Tensor, terms) / n_terms
        dino_local = dino_loss(s_small, t_cls, temp) / n_terms if n_small else dino_global * 0
        return dino_global, dino_local

    @torch.no_grad()
    def update_teacher(self, momentum: float) -> None:
        """teacher <- momentum * teacher + (1 - momentum) * student, parameter by parameter."""
        t: list[torch.Tensor] = list(self.teacher.parameters())
        s: list[torch.Tensor] = list(self.student.parameters())
        torch._foreach_mul_(t, momentum)
        torch._foreach_add_(t, s, alpha=1.0 - momentum)
