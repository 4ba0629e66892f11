"""Smoke test of ``iomtshare bench dual`` on tiny inputs: every figure produces its rows."""

from __future__ import annotations

from bench import dual_bench
from crypto.dual import setup
from crypto.groups import load_group


def test_every_figure_reports_rows_and_ratios() -> None:
    params = setup(load_group("mcl"))
    rows = (
        dual_bench._fig6(params, [1, 2], 1)
        + dual_bench._fig7(params, [1], 1)
        + dual_bench._fig8(params, [1, 2], 1)
        + dual_bench._fig9(params, [3], 1)
        + dual_bench._table4(params, 1, t=2, n=3)
        + dual_bench._c1_proof(params, 1)
    )
    figures = {r.figure for r in rows}
    assert figures == {"fig6", "fig7", "fig8", "fig9", "table4", "c1proof"}
    encrypt_two = next(
        r for r in rows if (r.figure, r.operation, r.x) == ("fig6", "encryption", "2")
    )
    assert encrypt_two.paper_ms == 2 * dual_bench.PAPER_ITEM_ENCRYPT
    assert encrypt_two.ratio == encrypt_two.paper_ms / encrypt_two.ours_ms
    assert all(r.ours_ms >= 0 for r in rows)
    table, checks = dual_bench._targets(rows)
    assert len(table) == 5
    assert all(check["median_ms"] is not None for check in checks.values())
    assert rows[0].as_dict()["figure"] == "fig6"
