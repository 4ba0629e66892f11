"""The load generator's pieces: the synthetic ECG and the nearest-rank percentile."""

from __future__ import annotations

import pytest

from client.sensor_load import SAMPLE_RATE, ecg_window, percentile


def test_ecg_window_is_deterministic_and_beats() -> None:
    window = ecg_window(3, 10)
    assert window == ecg_window(3, 10)
    assert window != ecg_window(4, 10)
    assert len(window) == 12 + 2 * SAMPLE_RATE
    samples = [int.from_bytes(window[i:i + 2], "big", signed=True)
               for i in range(12, len(window), 2)]
    # An R wave (about 1 mV) stands far above the baseline in every one-second window.
    assert max(samples) > 800
    assert min(samples) < 0


@pytest.mark.parametrize(("values", "fraction", "expected"), [
    ([], 0.5, None), ([5.0], 0.99, 5.0), ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0),
    (list(range(1, 101)), 0.99, 99), (list(range(100, 0, -1)), 0.5, 50),
])
def test_percentile_is_nearest_rank(
    values: list[float], fraction: float, expected: float | None
) -> None:
    assert percentile(values, fraction) == expected
