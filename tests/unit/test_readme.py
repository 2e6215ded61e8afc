"""The README keeps its promises: the two commands first, and the numbers the cards measured."""
import json
import re

import model
from model.catalog import config_path
from model.training.readme import metrics_table
from tests import ROOT

README = ROOT / "README.md"


def test_opens_with_run_and_test_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert "streamlit run app.py" in blocks[0] and "requirements.txt" in blocks[0]
    assert "pytest" in blocks[1] and "requirements-dev.txt" in blocks[1]
    assert "torch==2.13.0" in (README.parent / "requirements.txt").read_text()


def test_metrics_in_readme_are_the_cards():
    assert metrics_table() in README.read_text(encoding="utf-8"), "run: python -m model.training.readme"
    for name in model.BUILTIN_NAMES:
        assert json.loads(config_path(name).read_text())["metrics"]
