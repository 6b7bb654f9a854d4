"""pandas left out of skewsleuth's own processes (issue 22): what they still do without
it, in a fresh interpreter."""

from __future__ import annotations

from support.interpreter import fresh


def test_pyarrow_and_duckdb_do_their_work_with_pandas_left_out():
    """Under the command line's finder, pyarrow builds arrays and tables and DuckDB
    reads and returns them as the store does, and pandas stays unloaded; importing
    it says it is not installed."""
    out = fresh("from skewsleuth.without_pandas import leave_out_pandas\n"
                 "leave_out_pandas()\n"
                 "import duckdb, pyarrow as pa, numpy as np\n"
                 "t = pa.table({'x': pa.array([1, 2, None]), 'y': pa.array(np.array([0.5, np.nan, 2.0]), "
                 "from_pandas=True)})\n"
                 "con = duckdb.connect()\n"
                 "con.register('t', t)\n"
                 "out['sum'] = con.execute('SELECT sum(x), count(y) FROM t').fetchall()[0]\n"
                 "out['empty'] = con.sql('DESCRIBE SELECT * FROM t').fetchall()[0][:2]\n"
                 "try:\n    import pandas\nexcept ModuleNotFoundError as exc:\n    out['refused'] = exc.name\n")
    assert out["sum"] == [3, 2] and out["empty"] == ["x", "BIGINT"]
    assert out["refused"] == "pandas"
    assert "pandas" not in out["loaded"], out["loaded"]
