import itertools

import pytest

from vidrop.data.sampler import EpochBatchSampler


def test_epochs_are_permutations_and_resume_repeats_batches():
    s = EpochBatchSampler(10, 3, seed=0)
    batches = list(itertools.islice(iter(s), 9))
    epoch0 = [i for b in batches[:3] for i, _, _ in b]
    assert len(set(epoch0)) == 9 and all(e == 0 for b in batches[:3] for _, e, _ in b)
    assert all(e == 1 for _, e, _ in batches[3])
    # each key carries its micro-step: the loader draws that step's token plan with it
    assert [{step for _, _, step in b} for b in batches] == [{k} for k in range(9)]
    resumed = list(itertools.islice(iter(EpochBatchSampler(10, 3, seed=0, start_step=4)), 5))
    assert resumed == batches[4:]


def test_ranks_take_disjoint_slices():
    a = next(iter(EpochBatchSampler(8, 2, seed=1, rank=0, world_size=2)))
    b = next(iter(EpochBatchSampler(8, 2, seed=1, rank=1, world_size=2)))
    assert not set(a) & set(b)


def test_dataset_smaller_than_a_batch():
    with pytest.raises(ValueError, match="fewer than one global batch"):
        EpochBatchSampler(3, 4, seed=0)
