"""Every test session gets its own results database and model cache, never the user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_results_database(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("ONNXPROF_DB", str(tmp_path_factory.mktemp("results") / "results.sqlite"))
    yield
    mp.undo()
