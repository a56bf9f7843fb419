import os

import pytest

from vidrop.machine import default_workers


@pytest.mark.parametrize(
    ("cores", "cap", "expected"), [(1, 8, 1), (2, 8, 1), (4, 8, 3), (16, 8, 8)]
)
def test_default_workers_leaves_the_main_process_a_core(monkeypatch, cores, cap, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert default_workers(cap) == expected
