"""The app layers in .importlinter hold, and the contract really catches an upward import."""
import configparser
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = ROOT / ".venv" / "bin" / "lint-imports"



def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    lint = LINT if LINT.exists() else shutil.which("lint-imports")
    return subprocess.run([str(lint), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_app_layers_contract_is_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upward_import_breaks_the_contract(tmp_path):
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    for package in config["importlinter"]["root_packages"].split():
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    models = tmp_path / "sellers" / "models.py"
    models.write_text(models.read_text() + "\nfrom payments.models import Payment  # noqa\n")

    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "sellers.models -> payments.models" in result.stdout
