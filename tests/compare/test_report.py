from vidrop.compare.report import _tuning


def test_the_finalists_are_listed_under_the_trials_with_the_choice_marked():
    knob = {"mask.drop_ratio": 0.75}

    def run(lr: float, score: float, steps: int) -> dict:
        return {
            "lr": lr,
            "settings": knob,
            "heldout": {"knn": score, "linear": score},
            "steps": steps,
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
    assert sum("| vidrop |" in line for line in trials) == 3
    assert [line for line in finals if "| vidrop |" in line] == [
        "| vidrop | 0.003 | mask.drop_ratio=0.75 | 845 | 25.0 | 25.0 | 25.0 |",
        "| vidrop | 0.001 | mask.drop_ratio=0.75 | 845 | 30.0 | 30.0 | 30.0 **chosen** |",
    ]
