"""The sandbox sits outside the product: product code never imports it (it talks to the
sandbox only over HTTP, as it talks to the real providers), and the sandbox imports nothing
of the product but the pure codecs both sides need.

import-linter checks the same rules (.importlinter); these checks also see imports
from a package into its own subpackages, which import-linter's forbidden contracts skip."""
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.test_platform import PROVIDER_SECRETS, STRONG_KEY, run_bare, shown_settings

ROOT = Path(__file__).resolve().parents[1]
SANDBOX = "sandbox"
SANDBOX_DIR = ROOT.joinpath(*SANDBOX.split("."))
NOT_PRODUCT = {"tests", "bench", ".venv", "var"}
PRODUCT = ("config", "core", "sellers", "notifications", "webhooks", "orders", "payments")
# Pure (standard library only), imported by both Kassa's providers and the sandbox's twins.
SHARED_CODECS = {"core.nano_codec", "payments.providers.signatures"}


def product_files():
    for package in sorted(ROOT.iterdir()):
        if package.name in NOT_PRODUCT or not (package / "__init__.py").exists():
            continue
        for path in package.rglob("*.py"):
            if SANDBOX_DIR not in path.parents:
                yield path


def imported_modules(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno
            yield from ((f"{node.module}.{alias.name}", node.lineno) for alias in node.names)


def is_sandbox(name: str) -> bool:
    return name == SANDBOX or name.startswith(f"{SANDBOX}.")


def test_product_code_never_imports_the_sandbox():
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in product_files() for name, line in imported_modules(path) if is_sandbox(name)]
    assert found == []


def test_the_sandbox_imports_only_the_shared_codecs():
    """Every sandbox module imported in a fresh process, without Django settings: the only
    project modules loaded besides the sandbox are the shared codecs (and their packages)."""
    script = f"""
import json, pkgutil, importlib, sys
sandbox = importlib.import_module({SANDBOX!r})
for module in pkgutil.walk_packages(sandbox.__path__, sandbox.__name__ + "."):
    importlib.import_module(module.name)
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in {PRODUCT!r})))
"""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    loaded = json.loads(subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True,
                                       capture_output=True, text=True).stdout)
    packages = ("core", "payments", "payments.providers")
    product = {name for name in loaded if not is_sandbox(name) and name not in packages}
    assert product == SHARED_CODECS


def test_the_shared_codecs_import_nothing_from_the_project():
    for name in SHARED_CODECS:
        path = ROOT / (name.replace(".", "/") + ".py")
        imported = {module.split(".")[0] for module, _line in imported_modules(path)}
        assert imported <= set(sys.stdlib_module_names) | {"__future__"}, (name, imported)


# --- production (SANDBOX_MODE off) never loads the sandbox ---------------------------------------

LOAD_THE_PRODUCT = f"""
import importlib, json, pathlib, sys
from django.apps import apps
from django.urls import get_resolver
for package in ("config", "sellers", "orders", "payments"):
    for path in sorted(pathlib.Path(package).rglob("*.py")):
        name = ".".join(path.with_suffix("").parts).removesuffix(".__init__")
        if name != {SANDBOX!r} and not name.startswith({SANDBOX + "."!r}):
            importlib.import_module(name)
get_resolver().url_patterns
print(json.dumps({{"installed": [app.name for app in apps.get_app_configs() if app.label == "sandbox"],
                  "loaded": sorted(name for name in sys.modules
                                   if name == {SANDBOX!r} or name.startswith({SANDBOX + "."!r}))}}))
"""


def production_env(tmp_path) -> dict:
    return {"SECRET_KEY": STRONG_KEY, **PROVIDER_SECRETS, "VAR_DIR": str(tmp_path), "PATH": os.environ["PATH"]}


def test_without_sandbox_mode_the_sandbox_app_is_absent_and_never_imported(tmp_path):
    shown = shown_settings(run_bare(production_env(tmp_path), "shell", "-c", LOAD_THE_PRODUCT))
    assert shown == {"installed": [], "loaded": []}


def test_without_sandbox_mode_deploy_checks_pass_and_there_is_no_sandbox_command(tmp_path):
    checked = run_bare(production_env(tmp_path), "check", "--deploy", "--fail-level", "ERROR")
    assert checked.returncode == 0, checked.stderr
    assert "kassa.W001" not in checked.stdout + checked.stderr
    served = run_bare(production_env(tmp_path), "sandbox", "serve", "--port", "0")
    assert served.returncode != 0 and "Unknown command: 'sandbox'" in served.stderr


def test_with_sandbox_mode_the_sandbox_app_is_installed(tmp_path):
    env = {**production_env(tmp_path), "SANDBOX_MODE": "true"}
    assert shown_settings(run_bare(env, "shell", "-c", LOAD_THE_PRODUCT))["installed"] == [SANDBOX]


def test_the_import_linter_sandbox_contracts_pass():
    """The same two rules, checked statically by import-linter (.importlinter, also what make lint runs)."""
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--config", ".importlinter",
                             "--contract", "product-never-imports-sandbox",
                             "--contract", "sandbox-imports-only-shared-codecs",
                             "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout
