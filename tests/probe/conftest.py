"""Run torch single-threaded in the probe tests: on a shared 2-core machine two intra-op
threads make these tiny models many times slower (threads spin waiting for each other)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
