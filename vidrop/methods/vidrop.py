"""ViDROP: a DINOv2 student/teacher pair whose student sees the large clips with most tokens
dropped (vidrop.methods.meta_arch holds the model and its loss)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from vidrop import dist
from vidrop.config import Config, ConfigError, OptimConfig
from vidrop.data.batch import DeviceBatch
from vidrop.methods.base import LossTerms, Method, ParamGroup
from vidrop.methods.meta_arch import ViDROP
from vidrop.methods.param_groups import layerwise_groups
from vidrop.methods.registry import register_method
from vidrop.models.export import save_backbone
from vidrop.models.init import init_backbones
from vidrop.models.vit import VideoViT
from vidrop.parallel import full_state
from vidrop.seeds import Purpose


def as_vidrop(model: nn.Module) -> ViDROP:
    if not isinstance(model, ViDROP):
        raise TypeError(f"the vidrop method trains a ViDROP model, got {type(model).__name__}")
    return model


@register_method
class ViDROPMethod(Method):
    name = "vidrop"
    parts = ("teacher", "student")
    knob = "mask.drop_ratio"  # the paper's ablation: the recipe's, and 0.75 (0.85 where it is 0.75)
    knob_values = (0.75, 0.85)
    ddp_broadcast_buffers = False  # softmax centres are all-reduced in the loss already
    schedule_logs = ("lr", "last_layer_lr", "wd", "momentum", "teacher_temp")

    def check(self, cfg: Config) -> None:
        if cfg.views.large_clips < 2:
            raise ConfigError("views.large_clips must be >= 2 (the DINO loss swaps two clips)")

    def build(self, cfg: Config) -> nn.Module:
        return ViDROP(cfg.model, cfg.head, cfg.loss)

    def init_weights(self, model: nn.Module, path: str) -> dict[str, Any]:
        m = as_vidrop(model)
        student, teacher = m.student["backbone"], m.teacher["backbone"]
        assert isinstance(student, VideoViT) and isinstance(teacher, VideoViT)
        return init_backbones(student, teacher, path)

    def trained(self, model: nn.Module) -> nn.Module:
        return as_vidrop(model).student

    def param_groups(self, model: nn.Module, optim: OptimConfig) -> list[ParamGroup]:
        student = as_vidrop(model).student
        return layerwise_groups(student, optim.layerwise_decay, optim.patch_embed_lr_mult)

    def clip_groups(self, model: nn.Module) -> list[list[nn.Parameter]]:
        """Each student module (backbone, each head) clipped by its own norm, as DINOv2 does."""
        return [list(module.parameters()) for module in as_vidrop(model).student.values()]

    def shard(self, model: nn.Module) -> None:
        """fully_shard every block, each backbone's other parameters and each head, of student
        and teacher alike (so the EMA runs shard by shard), with the ViDROP module as the root."""
        from torch.distributed.fsdp import fully_shard

        m = as_vidrop(model)
        for part in (m.student, m.teacher):
            backbone = part["backbone"]
            assert isinstance(backbone, VideoViT)
            for block in backbone.blocks:
                fully_shard(block)
            for module in part.values():
                fully_shard(module)
        fully_shard(m)

    def loss(self, forward: nn.Module, batch: DeviceBatch, sched: Mapping[str, float]) -> LossTerms:
        if batch.plan is None:
            raise ValueError("a ViDROP step needs the micro-batch's token plan")
        batch.draws.seed_global(Purpose.DROP_PATH)
        terms: LossTerms = forward(batch.large, batch.small, batch.plan, sched["teacher_temp"])
        return terms

    def after_step(self, model: nn.Module, sched: Mapping[str, float]) -> None:
        as_vidrop(model).update_teacher(sched["momentum"])

    def compile(self, model: nn.Module) -> None:
        """torch.compile the student and teacher backbones, static shapes: the student meets two
        shapes (kept large tokens, small clips) and the teacher one, so each gets its own
        specialised graph instead of one generic dynamic-shape graph.

        Dynamo caches graphs per function, shared by every model instance (each adds its own): a
        process that builds several compiled models (`bench train`, its batch search) passes the
        default limit of 8 and Dynamo then silently runs eager."""
        import torch._dynamo

        limit = torch._dynamo.config.recompile_limit
        torch._dynamo.config.recompile_limit = max(limit, 64)
        m = as_vidrop(model)
        m.student["backbone"].compile(dynamic=False)
        m.teacher["backbone"].compile(dynamic=False)

    def set_activation_checkpointing(self, model: nn.Module, on: bool) -> None:
        backbone = as_vidrop(model).student["backbone"]
        assert isinstance(backbone, VideoViT)
        backbone.activation_checkpointing = on

    def export(self, model: nn.Module, out: Path, meta: dict[str, Any], part: str = "") -> Path:
        """The teacher (or student) backbone as a vidrop export."""
        part = part or self.parts[0]
        if part not in self.parts:
            known = " or ".join(self.parts)
            raise ConfigError(f"the {self.name} method exports {known}, not {part}")
        m = as_vidrop(model)
        backbone = (m.teacher if part == "teacher" else m.student)["backbone"]
        assert isinstance(backbone, VideoViT)
        state = full_state(backbone)
        if dist.is_main():
            plain = VideoViT(backbone.cfg)
            plain.load_state_dict(state)
            save_backbone(out, plain, {"source": part, **meta})
        return out
