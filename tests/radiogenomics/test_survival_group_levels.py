"""``radiogenomics survival --group``: a column with too many levels is refused, naming it."""

from __future__ import annotations

import numpy as np
import pandas as pd


def test_group_with_too_many_levels_is_refused(tmp_path, capsys):
    from radiogenomics.cli import main

    rng = np.random.default_rng(0)
    n = 60
    df = pd.DataFrame({
        "time": rng.exponential(10, n), "event": rng.integers(0, 2, n),
        "age": rng.normal(60, 10, n).round(1),  # continuous: ~41+ distinct values
        "arm": rng.choice(["A", "B"], n),
    })
    data = tmp_path / "d.csv"
    df.to_csv(data, index=False)
    base = ["survival", "--data", str(data), "--duration", "time", "--event", "event"]
    assert main([*base, "--group", "age", "--out", str(tmp_path / "o1")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'age'" in err[0] and "--max-groups 12" in err[0]
    assert not (tmp_path / "o1").exists()
    assert main([*base, "--group", "arm", "--out", str(tmp_path / "o2")]) == 0
    # the limit is a parameter
    df["site"] = np.arange(n) % 15
    df.to_csv(data, index=False)
    assert main([*base, "--group", "site", "--out", str(tmp_path / "o3")]) == 2
    assert main([*base, "--group", "site", "--max-groups", "15", "--out", str(tmp_path / "o3")]) == 0
