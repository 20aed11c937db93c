"""The numba-free list of kernel metric names matches the kernel's own, index by index."""

from __future__ import annotations

from engine.kernel import sim_nb
from engine.metric_names import KERNEL_METRICS, LOWER_IS_BETTER


def test_kernel_metric_names_with_numba_free_copy_match_name_and_index():
    assert KERNEL_METRICS == sim_nb.METRIC_NAMES
    assert len(KERNEL_METRICS) == sim_nb.N_METRICS
    indices = {name: getattr(sim_nb, name) for name in dir(sim_nb) if name.startswith("M_")}
    assert sorted(indices.values()) == list(range(sim_nb.N_METRICS))
    for name, index in indices.items():
        key = KERNEL_METRICS[index].upper().replace("AVG_GROSS_EXPOSURE", "AVG_GROSS")
        assert f"M_{key.replace('AVG_NET_EXPOSURE', 'AVG_NET')}" == name, (name, index)


def test_lower_is_better_with_kernel_metrics_names_only_kernel_metrics():
    assert LOWER_IS_BETTER <= set(KERNEL_METRICS)
