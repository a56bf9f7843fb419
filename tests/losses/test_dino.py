import math

import torch

from vidrop.losses import dino_loss


def test_hand_computed_single_pair():
    s = torch.tensor([[1.0, 0.0]])
    t = torch.tensor([[0.25, 0.75]])
    z = math.log(math.e + 1)
    expected = -(0.25 * (1 - z) + 0.75 * (0 - z))
    assert math.isclose(float(dino_loss([s], [t], student_temp=1.0)), expected, rel_tol=1e-6)


def test_temperature_and_batch_mean():
    s = torch.tensor([[0.2, 0.1, -0.3], [0.0, 0.5, 0.1]])
    t = torch.tensor([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    per_row = [
        -sum(t[b, k] * (s[b, k] / 0.1 - torch.logsumexp(s[b] / 0.1, 0)) for k in range(3))
        for b in range(2)
    ]
    expected = (per_row[0] + per_row[1]) / 2
    torch.testing.assert_close(dino_loss([s], [t], 0.1), expected)


def test_sums_over_all_student_teacher_pairs():
    torch.manual_seed(0)
    students = [torch.randn(4, 8) for _ in range(3)]
    teachers = [torch.softmax(torch.randn(4, 8), -1) for _ in range(2)]
    total = sum(dino_loss([s], [t]) for s in students for t in teachers)
    torch.testing.assert_close(dino_loss(students, teachers), total)
