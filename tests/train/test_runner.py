"""The one step runner serves every method alike: compilation reaches VideoMAE's model too."""

import pytest

from tests.helpers import tiny_config
from vidrop.train.loop import Trainer
from vidrop.train.metrics import read_metrics


@pytest.mark.slow
def test_videomae_compiles_in_pretrain_and_trains_as_eager(synth_data, tmp_path):
    """train.method=videomae train.compile=true: the model is compiled (Dynamo traces graphs)
    and the first steps' losses equal the eager run's (tiny 2-block encoder, CPU inductor)."""
    import torch._dynamo

    losses = {}
    for compile_ in (False, True):
        torch._dynamo.reset()
        cfg = tiny_config(
            synth_data["train"],
            "train.method=videomae",
            "model.depth=2",
            f"train.compile={str(compile_).lower()}",
            "train.max_steps=2",
        )
        trainer = Trainer(cfg, tmp_path / f"compile-{compile_}")
        assert (trainer.model._compiled_call_impl is not None) == compile_
        result = trainer.run()
        losses[compile_] = [r["loss"] for r in read_metrics(result.metrics)]
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0
