import torch

from tests.helpers import HEAD, MODEL, inputs, plan_of
from vidrop.config import LossConfig
from vidrop.data.views import clip_major
from vidrop.losses import dino_loss
from vidrop.methods.meta_arch import ViDROP


def test_every_student_parameter_gets_a_gradient_and_the_teacher_none():
    torch.manual_seed(0)
    model = ViDROP(MODEL, HEAD, LossConfig()).train()
    large, small, keep, masks = inputs()
    terms = model(large, small, plan_of(keep, masks), teacher_temp=0.05)
    terms.loss.backward()
    for name, p in model.student.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for p in model.teacher.parameters():
        assert not p.requires_grad and p.grad is None
    assert not model.teacher.training  # no drop path in the teacher
    expected = terms.logs["dino_global_loss"] + terms.logs["dino_local_loss"]
    expected = expected + terms.logs["ibot_loss"] + 0.1 * terms.logs["koleo_loss"]
    torch.testing.assert_close(terms.loss.detach(), expected)


def test_dino_terms_swap_the_two_large_clips():
    """With two large clips and no small ones the global term is DINOv2's swapped pair / 2."""
    torch.manual_seed(0)
    model = ViDROP(MODEL, HEAD, LossConfig(centering="softmax")).eval()
    large, _, keep, masks = inputs()
    small = torch.zeros(3, 0, 3, 4, 16, 16)
    terms = model(large, small, plan_of(keep, masks, model.loss_cfg.ibot_tokens), 0.07)
    flat = clip_major(large)
    with torch.no_grad():
        t = torch.softmax(
            model.teacher["dino_head"](model.teacher["backbone"](flat)["cls"]) / 0.07, -1
        )
        s = model.student["dino_head"](
            model.student["backbone"].forward_features(flat, keep, masks)["cls"]
        )
    t0, t1 = t.chunk(2)
    s0, s1 = s.chunk(2)
    expected = (dino_loss([s0], [t1]) + dino_loss([s1], [t0])) / 2  # 2 terms counted
    torch.testing.assert_close(terms.logs["dino_global_loss"], expected)


def test_ema_update():
    torch.manual_seed(0)
    model = ViDROP(MODEL, HEAD, LossConfig())
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(1.0)
    t_before = [p.clone() for p in model.teacher.parameters()]
    model.update_teacher(0.9)
    for t0, t, s in zip(
        t_before, model.teacher.parameters(), model.student.parameters(), strict=True
    ):
        torch.testing.assert_close(t, 0.9 * t0 + 0.1 * s)
    model.update_teacher(1.0)  # momentum 1: frozen teacher
    for t0, t, s in zip(
        t_before, model.teacher.parameters(), model.student.parameters(), strict=True
    ):
        torch.testing.assert_close(t, 0.9 * t0 + 0.1 * s)


def test_no_masked_clip_still_trains():
    torch.manual_seed(0)
    model = ViDROP(MODEL, HEAD, LossConfig()).train()
    large, small, keep, masks = inputs(mask_prob=0.0)
    terms = model(large, small, plan_of(keep, masks), teacher_temp=0.05)
    terms.loss.backward()
    assert torch.isfinite(terms.loss) and float(terms.logs["ibot_loss"]) == 0.0


def test_ibot_on_visible_tokens_scores_the_kept_unmasked_ones():
    """loss.ibot_tokens=visible: the iBOT term is DINOv2's formula on the kept tokens the mask
    left visible, against the teacher's tokens at the same grid positions."""
    from vidrop.losses import ibot_masked_loss, sinkhorn_knopp

    torch.manual_seed(0)
    model = ViDROP(MODEL, HEAD, LossConfig(ibot_tokens="visible")).eval()
    large, small, keep, masks = inputs(mask_prob=0.5)
    terms = model(large, small, plan_of(keep, masks, model.loss_cfg.ibot_tokens), 0.07)
    visible = ~masks
    clip, pos = visible.nonzero(as_tuple=True)
    flat = clip_major(large)
    with torch.no_grad():
        t = model.teacher["backbone"](flat)["patch"][clip, keep[clip, pos]]
        t = sinkhorn_knopp(model.teacher["ibot_head"](t), 0.07, 3)
        s = model.student["backbone"].forward_features(flat, keep, masks)["patch"][clip, pos]
        want = ibot_masked_loss(model.student["ibot_head"](s), t, visible, 0.1)
    torch.testing.assert_close(terms.logs["ibot_loss"], want)
    # with no masks at all, the masked-token loss has nothing to score; the visible one has
    no_masks = torch.zeros_like(masks)
    masked_mode = ViDROP(MODEL, HEAD, LossConfig()).eval()
    assert masked_mode(large, small, plan_of(keep, no_masks), 0.07).logs["ibot_loss"] == 0
    assert model(large, small, plan_of(keep, no_masks, "visible"), 0.07).logs["ibot_loss"] > 0


def test_a_shared_head_scores_both_cls_and_patches():
    from dataclasses import replace

    from vidrop.methods.meta_arch import patch_head

    torch.manual_seed(0)
    shared = replace(HEAD, patch_prototypes=HEAD.prototypes, shared=True)
    model = ViDROP(MODEL, shared, LossConfig()).train()
    assert (
        "ibot_head" not in model.student and patch_head(model.student) is model.student["dino_head"]
    )
    separate = ViDROP(MODEL, replace(shared, shared=False), LossConfig())
    head_params = sum(p.numel() for p in separate.student["ibot_head"].parameters())
    count = sum(p.numel() for p in model.student.parameters())
    assert count == sum(p.numel() for p in separate.student.parameters()) - head_params
    large, small, keep, masks = inputs()
    terms = model(large, small, plan_of(keep, masks), teacher_temp=0.05)
    terms.loss.backward()
    assert terms.logs["ibot_loss"] > 0
    assert all(p.grad is not None for p in model.student["dino_head"].parameters())


def test_ablation_switches_are_config_keys():
    import pytest

    from vidrop.config import ConfigError, load_config

    cfg = load_config(
        "tiny",
        [
            "loss.ibot_tokens=visible",
            "head.shared=true",
            "head.patch_prototypes=1024",
            "views.small_clips=0",
        ],
    )
    assert (cfg.loss.ibot_tokens, cfg.head.shared, cfg.views.small_clips) == ("visible", True, 0)
    with pytest.raises(ConfigError, match="head.shared=true needs"):
        load_config("tiny", ["head.shared=true", "head.patch_prototypes=64"])
    with pytest.raises(ConfigError, match="loss.ibot_tokens"):
        load_config("tiny", ["loss.ibot_tokens=all"])
