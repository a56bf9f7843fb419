import sys

import torch

from tests.helpers import load_script
from vidrop.models.export import save_backbone
from vidrop.models.vit import VideoViT, ViTConfig


def run_script(argv: list[str], monkeypatch, capsys) -> dict[str, list[float]]:
    module = load_script("propagation_diagnosis")
    monkeypatch.setattr(sys, "argv", [module.__file__, *argv])
    module.main()
    rows = {}
    for line in capsys.readouterr().out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[1].replace(".", "").isdigit():
            rows[cells[0]] = [float(c) for c in cells[1:4]]
    return rows


def test_rows_and_known_answers(eval_data, tmp_path, monkeypatch, capsys):
    """The backbone given IS the seed-0 random init: its row equals the random-init row. The true
    masks on the grid bound every propagation row, and the objectness oracle beats random
    features."""
    torch.manual_seed(0)
    model = VideoViT(ViTConfig(arch="vit_t", depth=1, num_frames=8, img_size=64))
    export = save_backbone(tmp_path / "export", model).parent
    rows = run_script(
        ["--synth", eval_data["val"], "--backbone", str(export), "--limit", "4"],
        monkeypatch,
        capsys,
    )
    assert list(rows) == [
        "true masks on the grid",
        "objectness oracle",
        "raw colour",
        str(export),
        "random init",
    ]
    assert rows[str(export)] == rows["random init"]
    ceiling = rows["true masks on the grid"][0]
    assert all(r[0] <= ceiling for r in rows.values())
    assert rows["objectness oracle"][0] > rows["random init"][0]
