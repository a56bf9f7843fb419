"""Counted training FLOPs: torch's FlopCounterMode (matrix products, convolutions, attention),
with the CPU's fused attention kernels added, which torch's table lacks: on the CPU, SDPA runs
`_scaled_dot_product_flash_attention_for_cpu`, whose FLOPs would otherwise count as zero."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

aten = torch.ops.aten


def _cpu_sdpa(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _cpu_sdpa_backward(
    grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs
) -> int:
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


CPU_ATTENTION = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_sdpa_backward,
}


def count_flops(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(FLOPs that `fn()` ran, its result)."""
    with FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION) as counter:
        result = fn()
    return float(counter.get_total_flops()), result
