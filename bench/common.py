"""Helpers shared by the benchmarks."""

import os
import shutil
import tempfile
from collections.abc import Callable


def in_instance(run: Callable[[str], int], prefix: str) -> int:
    """`run(instance)` in INSTANCE_PATH, or in a temporary instance removed at the end."""
    own_instance = "INSTANCE_PATH" not in os.environ
    instance = os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix=prefix))
    try:
        return run(instance)
    finally:
        if own_instance:
            shutil.rmtree(instance, ignore_errors=True)
