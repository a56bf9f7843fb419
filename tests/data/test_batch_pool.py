"""Workers reuse batch buffers only once the main process gives them back, and never corrupt a
batch the main process still holds."""

import os

import pytest
import torch
from torch.utils.data import DataLoader

from tests.helpers import VIEWS
from vidrop.compress.source import StoreSource
from vidrop.data.batch_pool import BatchPool
from vidrop.data.dataset import ViewDataset, collate_views
from vidrop.data.malloc import worker_init


def _make():
    return (torch.zeros(2, 3),)


def test_buffers_come_back_only_when_given_back():
    pool = BatchPool(workers=1, keep=2)
    a, token_a = pool.take("k", _make, worker=0)
    b, token_b = pool.take("k", _make, worker=0)  # a is still lent: new buffers
    assert a[0].data_ptr() != b[0].data_ptr() and token_a != token_b
    c, token_c = pool.take("k", _make, worker=0)  # both lent, keep=2: c is not pooled
    assert token_c is None
    pool.give_back(token_a)
    again, token = pool.take("k", _make, worker=0)
    assert again is a and token == token_a


def test_other_shapes_are_not_reused():
    pool = BatchPool(workers=1, keep=1)
    a, token = pool.take("k", _make, worker=0)
    pool.give_back(token)
    other, token_other = pool.take("other shape", _make, worker=0)
    assert other is not a and token_other is not None  # the free set made room


def test_tokens_of_another_process_are_ignored():
    pool = BatchPool(workers=1)
    a, (worker, pid, bid) = pool.take("k", _make, worker=0)
    pool.give_back((worker, pid + 1, bid))  # e.g. a worker that was replaced
    b, _ = pool.take("k", _make, worker=0)
    assert b is not a and pid == os.getpid()


def test_main_process_takes_plain_buffers():
    a, token = BatchPool(workers=2).take("k", _make)  # not in a worker
    assert token is None and isinstance(a[0], torch.Tensor)


def _loader(source, pool, workers, context=None):
    data = ViewDataset(source, VIEWS, seed=0, pool=pool)
    keys = [[(i % len(source), i // len(source)) for i in range(j, j + 4)] for j in range(0, 64, 4)]
    return DataLoader(
        data,
        batch_sampler=keys,
        num_workers=workers,
        collate_fn=collate_views,
        worker_init_fn=worker_init,
        multiprocessing_context=context,
    )


@pytest.mark.parametrize("context", ["fork", "spawn"])  # spawn: macOS's and Windows' default
def test_pooled_loader_gives_the_exact_batches_and_never_touches_a_held_one(code_store, context):
    source = StoreSource(str(code_store))
    want = [{"large": b.large.clone(), "small": b.small.clone()} for b in _loader(source, None, 0)]
    pool = BatchPool(workers=2)
    held, held_copy, tokens = None, None, []
    for i, batch in enumerate(_loader(source, pool, 2, context)):
        assert torch.equal(batch.large, want[i]["large"])
        assert torch.equal(batch.small, want[i]["small"])
        tokens.append(batch.pool_token)
        if i == 1:  # kept by the main process, never given back
            held, held_copy = batch, batch.large.clone()
        else:
            pool.give_back(batch.pool_token)
    assert len(set(tokens)) < len(tokens)  # buffers were reused...
    assert tokens.count(tokens[1]) == 1  # ...but never the held batch's
    assert torch.equal(held.large, held_copy)
