import pytest
import torch

from vidrop.eval.attentive import (
    AttentiveConfig,
    AttentivePooler,
    TokenRows,
    attentive_probe,
    pooler_scores,
    probe_epochs,
    train_pooler,
)
from vidrop.eval.labels import LabelledSet
from vidrop.eval.probe import standardizer, stratified_holdout


def _tokens(n: int, seed: int, centers: torch.Tensor | None) -> LabelledSet:
    """The class signal sits in one token of 12 (at a random place); the rest is noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    x = torch.randn(n, 2, 12, 16, generator=g)
    if centers is not None:
        where = torch.randint(0, 12, (n,), generator=g)
        x[torch.arange(n), :, where] += centers[y][:, None]
    return LabelledSet(x, y, [str(i) for i in range(n)], [], 0)


def test_pooler_shapes_and_gradients():
    probe = AttentivePooler(16, 5, heads=4)
    out = probe(torch.randn(3, 7, 16))
    assert out.shape == (3, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in probe.parameters())


def test_finds_the_one_informative_token():
    centers = torch.randn(4, 16, generator=torch.Generator().manual_seed(0)) * 4
    cfg = AttentiveConfig(epochs=40, min_steps=0, lrs=(1e-3, 3e-3))
    r = attentive_probe(_tokens(120, 1, centers), _tokens(40, 2, centers), 4, cfg)
    assert r.top1 >= 90


def test_noise_stays_near_chance():
    cfg = AttentiveConfig(epochs=10, min_steps=0, lrs=(1e-3,))
    val = _tokens(200, 4, None)
    r = attentive_probe(_tokens(120, 3, None), val, 4, cfg)
    assert r.top1 < 40
    hits = (torch.tensor(r.predictions) == val.y).float()
    assert r.top1 == pytest.approx(100 * float(hits.mean()))


def test_small_sets_train_for_min_steps_large_sets_for_epochs():
    cfg = AttentiveConfig(epochs=20, min_steps=1200, batch_size=64)
    assert probe_epochs(1296, cfg) == 58  # 21 steps an epoch: 58 x 21 = 1218 >= 1200
    assert probe_epochs(64, cfg) == 1200
    assert probe_epochs(100_000, cfg) == 20  # 1563 steps an epoch: V-JEPA's 20 epochs
    assert probe_epochs(1296, AttentiveConfig(epochs=80, min_steps=1200)) == 80


def test_val_is_scored_by_the_probe_chosen_on_held_out_videos():
    """No retraining after the choice: val's predictions are those of the probe trained on the
    fit split with the chosen rate, standardised with the fit split's statistics."""
    centers = torch.randn(4, 16, generator=torch.Generator().manual_seed(0)) * 2
    train, val = _tokens(80, 5, centers), _tokens(40, 6, centers)
    cfg = AttentiveConfig(epochs=5, min_steps=0, lrs=(1e-4, 3e-3))
    r = attentive_probe(train, val, 4, cfg)
    assert r.epochs == 5
    assert r.lr == cfg.lrs[max(range(2), key=lambda i: r.grid[i]["holdout_top1"])]
    fit, _ = stratified_holdout(train.y, cfg.holdout, cfg.seed)
    tr, va = TokenRows(train.x, train.row_index()), TokenRows(val.x, val.row_index())
    tr.standardise_with(fit)
    va.mean, va.std = tr.mean, tr.std
    torch.testing.assert_close(tr.mean, standardizer(train.x[fit])[0])  # the fit split's stats
    probe = train_pooler(tr, fit, train.y[fit], 4, r.lr, cfg)
    expected = pooler_scores(probe, va, torch.arange(len(va)), "cpu").argmax(1).tolist()
    assert r.predictions == expected


def test_memory_mapped_tokens_give_the_in_memory_result(tmp_path):
    """Tokens on disk (numpy memmap, the streaming path of `eval all`), with an undecodable
    video left out by `rows`: the probe reads the same batches and gives the same result."""
    import numpy as np

    centers = torch.randn(4, 16, generator=torch.Generator().manual_seed(0)) * 2
    train, val = _tokens(60, 7, centers), _tokens(20, 8, centers)
    cfg = AttentiveConfig(epochs=3, min_steps=0, lrs=(1e-3, 3e-3))
    in_memory = attentive_probe(train, val, 4, cfg)
    files = []
    for name, s in (("train", train), ("val", val)):
        disk = np.lib.format.open_memmap(
            tmp_path / f"{name}.npy", "w+", np.float16, (len(s.y) + 1, *s.x.shape[1:])
        )
        disk[1:] = s.x.half().numpy()  # row 0: a video that failed to decode
        files.append(
            LabelledSet(
                torch.from_numpy(disk), s.y, s.paths, [], 0, rows=torch.arange(1, len(s.y) + 1)
            )
        )
    half = attentive_probe(
        LabelledSet(train.x.half(), train.y, train.paths, [], 0),
        LabelledSet(val.x.half(), val.y, val.paths, [], 0),
        4,
        cfg,
    )
    mapped = attentive_probe(*files, 4, cfg)
    assert mapped.predictions == half.predictions and mapped.top1 == half.top1
    assert mapped.grid == half.grid
    assert abs(mapped.top1 - in_memory.top1) <= 20  # float16 tokens: close to the float32 run
