"""The eval commands' flags default to the probes' settings: running a command without a flag runs
the probe as its settings say, and a flag given reaches the probe."""

from dataclasses import replace

from vidrop.cli import build_parser
from vidrop.eval.cli import propagation_config, suite_config
from vidrop.eval.settings import AttentiveConfig, LinearConfig, PropagationConfig, SuiteConfig


def _parse(*words: str):
    return build_parser().parse_args(list(words))


def test_eval_all_without_flags_runs_the_default_suite():
    args = _parse(
        "eval", "all", "--backbone", "b", "--train", "t.csv", "--val", "v.csv", "--out", "o"
    )
    assert suite_config(args) == SuiteConfig()


def test_eval_all_flags_reach_the_suite():
    args = _parse(
        "eval", "all", "--backbone", "b", "--train", "t.csv", "--val", "v.csv", "--out", "o",
        "--attentive-min-steps", "7", "--max-token-gib", "2", "--synth", "v.csv", "--limit", "3",
        "--shifts", "2", "--copies", "c.csv", "--feature", "mean",
    )  # fmt: skip
    expected = SuiteConfig(
        feature="mean",
        attentive=AttentiveConfig(min_steps=7),
        max_token_gib=2.0,
        propagate="v.csv",
        propagate_limit=3,
        propagation=PropagationConfig(shifts=2),
        copies="c.csv",
    )
    assert suite_config(args) == expected
    no_attentive = _parse(
        "eval", "all", "--backbone", "b", "--train", "t", "--val", "v", "--out", "o",
        "--no-attentive", "--davis", "/d",
    )  # fmt: skip
    assert suite_config(no_attentive) == SuiteConfig(attentive=None, propagate="davis:/d")


def test_propagate_flags():
    assert propagation_config(_parse("eval", "propagate", "--backbone", "b")) == PropagationConfig()
    args = _parse(
        "eval", "propagate", "--backbone", "b", "--topk", "3", "--context", "2", "--radius", "4",
        "--temperature", "0.5", "--short-side", "96", "--shifts", "2",
    )  # fmt: skip
    assert propagation_config(args) == PropagationConfig(96, 2, 3, 2, 4, 0.5)


def test_probe_flags_default_to_the_settings():
    suite = SuiteConfig()
    knn = _parse("eval", "knn")
    assert tuple(int(k) for k in knn.k.split(",")) == suite.ks and knn.temp == suite.temp
    assert replace(LinearConfig(), epochs=_parse("eval", "linear").epochs) == LinearConfig()
    att = _parse("eval", "attentive")
    assert AttentiveConfig(epochs=att.epochs, min_steps=att.min_steps) == AttentiveConfig()
    low = _parse("eval", "lowshot")
    assert tuple(float(f) for f in low.fractions.split(",")) == suite.lowshot_fractions
    assert tuple(range(low.seeds)) == suite.lowshot_seeds
    cd = _parse("eval", "copydetect", "--backbone", "b", "--database", "d", "--queries", "q")
    assert cd.topk == suite.copy_topk
