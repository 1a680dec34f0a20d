"""The gate bench (`python -m billflow_dev gate-bench`) stages a clean partition that passes the gate."""

from __future__ import annotations

from billflow_dev.__main__ import main


def test_the_gate_bench_gates_its_generated_partition(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BILLFLOW_HOME", str(tmp_path / "unused"))  # the bench sets both; restored afterwards
    monkeypatch.setenv("BILLFLOW_STAGED_URI", str(tmp_path / "unused" / "staged"))

    assert main(["gate-bench", "--rows", "600", "--repeat", "1", "--dir", str(tmp_path / "bench")]) == 0

    assert "gate run 1: " in capsys.readouterr().err  # gate_partition raises when the gate fails
    assert list((tmp_path / "bench" / "gx" / "validations" / "staged_cur_daily").iterdir())
