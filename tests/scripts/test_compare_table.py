from tests.helpers import load_script


def gain(per_seed: list[float], low: float, high: float) -> dict:
    seeds = {str(i): {"gain": g} for i, g in enumerate(per_seed)}
    return {
        "per_seed": seeds,
        "mean": sum(per_seed) / len(per_seed),
        "pooled": {"low": low, "high": high},
    }


def method(lr: float, drop: float, pattern: str, mask_prob: float, visible: int) -> dict:
    return {
        "peak_lr": lr,
        "drop_ratio": drop,
        "drop_pattern": pattern,
        "mask_prob": mask_prob,
        "mask_ratio": [0.5, 0.7],
        "visible_tokens": visible,
        "clip_tokens": 64,
        "steps": 100,
        "summary": {"linear": {"values": [50.0, 52.0], "mean": 51.0, "std": 1.4}},
    }


def test_rows_state_each_recipe_as_trained_and_bold_only_what_passes_the_rule():
    report = {
        "budget": {"kind": "tflop", "value": 40.42},
        "seeds": [0, 1],
        "reference": "a",
        "methods": {
            "a": method(1e-3, 0.75, "random", 1.0, 16),
            "b": method(3e-3, 0.9, "tube", 0.0, 8),
            "random_init": {"feature": "cls", "steps": 0, "summary": {}},
        },
        "gains": {
            "a vs b": {"linear": gain([2.0, -1.0], 0.1, 3.0)},  # seeds disagree: no claim
            "a vs random_init": {"linear": gain([9.0, 8.0], 5.0, 12.0)},  # floors: not a row
        },
    }
    rows = load_script("compare_table").rows
    lines = rows("demo", report, ("linear",))
    recipe = "1e-03; drop 0.75 random; masked 1 of clips x 0.5-0.7; 16/64"
    assert lines[0] == f"| demo | a | {recipe} | 100 | 51.0 ± 1.4 |"
    assert "drop 0.9 tube; masked none; 8/64" in lines[1]
    assert lines[2].startswith("| demo | random_init (cls) |  | 0 |")
    assert lines[3] == "| demo | a's gain over b | | | +0.5 [+0.1, +3.0] |"
    report["gains"]["a vs b"]["linear"] = gain([2.0, 1.0], 0.1, 3.0)
    assert "**+1.5 [+0.1, +3.0]**" in rows("demo", report, ("linear",))[3]
    assert len(lines) == 5 and "(tflop 40.42, 2 seeds)" in lines[4]
