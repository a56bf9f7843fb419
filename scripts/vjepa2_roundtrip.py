"""The V-JEPA 2 round trip of docs/interop.md at a real depth: a random ViT-S-sized VJEPA2Model
(384 wide, 12 layers, 16x224x224 clips, weights moved off their init) through load_backbone,
with 85% of the tokens dropped, and exported back. Needs transformers.

python scripts/vjepa2_roundtrip.py OUT_FOLDER
"""

from __future__ import annotations

import sys

import torch
import transformers

from vidrop.machine import command_line, describe_machine
from vidrop.models.export import export_hf_vjepa2
from vidrop.models.load import load_backbone


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@torch.no_grad()
def main(out: str) -> None:
    torch.manual_seed(0)
    cfg = transformers.VJEPA2Config(
        patch_size=16,
        crop_size=224,
        frames_per_clip=16,
        tubelet_size=2,
        hidden_size=384,
        num_attention_heads=6,
        num_hidden_layers=12,
        pred_hidden_size=64,
        pred_num_attention_heads=2,
        pred_num_hidden_layers=1,
        num_pooler_layers=1,
    )
    hf = transformers.VJEPA2Model(cfg).eval()
    for p in hf.parameters():
        p.add_(0.05 * torch.randn_like(p))
    hf.save_pretrained(f"{out}/hf")
    ours = load_backbone(f"{out}/hf")
    video = torch.randn(2, 3, 16, 224, 224)
    got = ours.forward_features(video)["patch"]
    print(f"command: {command_line()}\nmachine: {describe_machine()}")
    print(f"load: {rel(got, hf.get_vision_features(video.transpose(1, 2))):.2e} relative")
    g = torch.Generator().manual_seed(1)
    keep = torch.stack([torch.randperm(1568, generator=g)[:236].sort().values for _ in range(2)])
    x = hf.encoder.embeddings(video.transpose(1, 2)).gather(1, keep[..., None].expand(-1, -1, 384))
    for layer in hf.encoder.layer:
        x = layer(x, keep)[0]
    kept = ours.forward_features(video, keep)["patch"]
    print(f"85% dropped (236 of 1568 kept): {rel(kept, hf.encoder.layernorm(x)):.2e} relative")
    export_hf_vjepa2(ours, f"{out}/back")
    again = transformers.VJEPA2Model.from_pretrained(f"{out}/back").eval()
    print(
        f"export -> transformers: {rel(again.get_vision_features(video.transpose(1, 2)), got):.2e}"
    )


if __name__ == "__main__":
    main(sys.argv[1])
