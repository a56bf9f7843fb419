from vidrop.compare.report import _gain_cell, _tuning, claim_holds


def test_the_finalists_are_listed_under_the_trials_with_the_choice_and_the_cost():
    knob = {"mask.drop_ratio": 0.75}

    def run(lr: float, score: float, steps: int) -> dict:
        return {
            "lr": lr,
            "settings": knob,
            "heldout": {"knn": score, "linear": score},
            "steps": steps,
            "seconds": steps / 2,
            "tflop": steps * 0.05,
        }

    report = {
        "tuning": {"lrs": [3e-4, 1e-3, 3e-3, 1e-2], "finalists": 2},
        "methods": {
            "vidrop": {
                "settings": knob,
                "peak_lr": 1e-3,
                "tuning": [run(1e-3, 26.0, 211), run(3e-3, 34.0, 211), run(1e-2, 15.0, 211)],
                "finalists": [run(3e-3, 25.0, 845), run(1e-3, 30.0, 845)],
            },
            "random_init": {},
        },
    }
    lines = _tuning(report)
    head = lines.index("## Finalists at the full budget (first seed, held-out training videos)")
    trials, finals = lines[:head], lines[head:]
    assert [line for line in trials if "| vidrop |" in line] == [
        "| vidrop | 3 | 31.7 | 316 | 84.5 | 845 |",  # the tuning's bill: trials, finalists
        "| vidrop | 0.001 | mask.drop_ratio=0.75 | 211 | 106 | 10.6 | 26.0 | 26.0 | 26.0 "
        "**chosen** (by the finalists) |",
        "| vidrop | 0.003 | mask.drop_ratio=0.75 | 211 | 106 | 10.6 | 34.0 | 34.0 | 34.0 |",
        "| vidrop | 0.01 | mask.drop_ratio=0.75 | 211 | 106 | 10.6 | 15.0 | 15.0 | 15.0 |",
    ]
    assert [line for line in finals if "| vidrop |" in line] == [
        "| vidrop | 0.003 | mask.drop_ratio=0.75 | 845 | 422 | 42.2 | 25.0 | 25.0 | 25.0 |",
        "| vidrop | 0.001 | mask.drop_ratio=0.75 | 845 | 422 | 42.2 | 30.0 | 30.0 | 30.0 "
        "**chosen** |",
    ]


def _gain(per_seed: list[float], low: float, high: float) -> dict:
    seeds = {str(i): {"gain": v} for i, v in enumerate(per_seed)}
    mean = sum(per_seed) / len(per_seed)
    return {"per_seed": seeds, "mean": mean, "std": 1.0, "pooled": {"low": low, "high": high}}


def test_a_claim_needs_one_sign_in_every_seed_and_an_interval_clear_of_zero():
    assert claim_holds(_gain([0.4, 1.1, 1.7], 0.1, 2.0))
    assert claim_holds(_gain([-4.8, -11.6, -10.1], -12.9, -4.8))
    assert not claim_holds(_gain([15.4, 16.0, -2.9], 6.8, 12.4))  # a seed disagrees
    assert not claim_holds(_gain([2.5, 0.8, 3.9], -0.0012, 5.0))  # the interval reaches zero
    assert not claim_holds(_gain([4.0], 1.0, 7.0))  # one seed: no spread between runs seen
    assert "**" in _gain_cell(_gain([0.4, 1.1, 1.7], 0.1, 2.0))
    assert _gain_cell(_gain([2.5, 0.8, 3.9], -0.0012, 5.0)) == "+2.4 ± 1.0 [-0.0, +5.0]"
