"""Triton Python backend model `voicekit`: describes what the models in this repository offer (INFO, JSON).

Its directory also holds the `voicekit` package the other models import (Triton loads every top-level directory
of a model repository as a model, so shared code has to live inside one; this one is its natural home).
"""
import json
import sys
from pathlib import Path

_VOICEKIT_HOME = str(Path(__file__).resolve().parents[1])
if _VOICEKIT_HOME not in sys.path:
    sys.path.insert(0, _VOICEKIT_HOME)

import triton_python_backend_utils as pb_utils  # noqa: E402

from voicekit.info import describe  # noqa: E402
from voicekit.triton_io import answer, string_tensor  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        self.info = json.dumps(describe(), sort_keys=True)

    def execute(self, requests):
        return answer(requests, lambda request: [string_tensor("INFO", self.info)], pb_utils.Logger)
