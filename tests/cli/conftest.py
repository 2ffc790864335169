"""Running the real `tgpipe` entry point in-process, as a user's shell would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cli.main import main


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def tgpipe(capsys: pytest.CaptureFixture[str], clean_settings: Path):
    """Call `tgpipe ARGS...` in a clean working directory with a clean TGPIPE_* environment."""

    def call(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return call
