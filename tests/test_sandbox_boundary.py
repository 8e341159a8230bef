"""The sandbox sits outside the product: product code never imports it (it talks to the
sandbox only over HTTP, as it talks to the real providers)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SANDBOX = ("payments.sandbox", "sandbox")
NOT_PRODUCT = {"tests", "bench", "sandbox", ".venv", "var"}


def product_files():
    for package in sorted(ROOT.iterdir()):
        if package.name in NOT_PRODUCT or not (package / "__init__.py").exists():
            continue
        for path in package.rglob("*.py"):
            if (ROOT / "payments" / "sandbox") not in path.parents:
                yield path


def imported_modules(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno
            yield from ((f"{node.module}.{alias.name}", node.lineno) for alias in node.names)


def test_product_code_never_imports_the_sandbox():
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for path in product_files() for name, line in imported_modules(path)
             if any(name == root or name.startswith(f"{root}.") for root in SANDBOX)]
    assert found == []
