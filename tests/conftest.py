"""Shared test set-up: the bundled pack, and no network, ever."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ["MMA_PACK"] = "bundled"  # tests never probe or download from the hub
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


def pytest_terminal_summary(terminalreporter):
    """The bad-input corpus's count and outcomes, in every run's output (even with -q)."""
    from tests import corpus_report

    corpus_report.write(terminalreporter)
