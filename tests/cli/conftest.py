"""What the CLI tests share: a results database of synthetic runs."""

from __future__ import annotations

import pytest

from onnxprof.store.db import Store
from tests import synthetic_runs as synth


@pytest.fixture(scope="module")
def synthetic_db(tmp_path_factory):
    """A SQLite file with one synthetic run of each of tests.synthetic_runs' models."""
    path = tmp_path_factory.mktemp("store") / "r.sqlite"
    with Store(str(path)) as store:
        synth.fill(store)
    return str(path)
