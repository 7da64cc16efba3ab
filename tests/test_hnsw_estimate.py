"""The HNSW build memory estimate (plugins/filter/hnsw.py). Its absolute figure is checked against
a real build's spill point in molecule/postgresql (test_hnsw_estimate_predicts_the_spill.py); here,
the shape: linear in rows, halfvec values half the size of vector values, bad input refused."""

from __future__ import annotations

import importlib.util

import pytest
from conftest import REPO
from hypothesis import given
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location("hnsw", REPO / "plugins/filter/hnsw.py")
assert _spec and _spec.loader
hnsw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hnsw)


@given(rows=st.integers(1, 10**7), dim=st.integers(1, 4000), m=st.integers(2, 100))
def test_linear_in_rows_and_growing_with_dimension_and_m(rows: int, dim: int, m: int) -> None:
    one = hnsw.hnsw_build_bytes(1000, dim, m) / 1000
    assert abs(hnsw.hnsw_build_bytes(rows, dim, m) - rows * one) <= rows * 0.001 + 1
    assert hnsw.hnsw_build_bytes(1000, dim + 8, m) > hnsw.hnsw_build_bytes(1000, dim, m)
    assert hnsw.hnsw_build_bytes(1000, dim, m + 1) > hnsw.hnsw_build_bytes(1000, dim, m)


@given(dim=st.integers(8, 4000).map(lambda d: d - d % 4), m=st.integers(2, 100))
def test_halfvec_saves_two_bytes_per_dimension(dim: int, m: int) -> None:
    saved = hnsw.hnsw_build_bytes(1000, dim, m, "vector") - hnsw.hnsw_build_bytes(1000, dim, m, "halfvec")
    assert saved == 1000 * 2 * dim


@pytest.mark.parametrize("args", [(10, 0, 16), (10, 32, 1), (-1, 32, 16), (10, 32, 16, "sparsevec")])
def test_bad_input_is_refused(args: tuple) -> None:
    with pytest.raises(ValueError):
        hnsw.hnsw_build_bytes(*args)
