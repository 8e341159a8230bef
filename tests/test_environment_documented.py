"""Every environment variable Kassa reads is listed in .env.example and named in the README's
"Environment" section, so an operator never has to read settings.py to find a knob."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# env.str("NAME", ...) in settings; os.environ.get("NAME", ...) / os.environ["NAME"] in the sandbox process.
READS = re.compile(r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]+)["']"""
                   r"""|os\.environ(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""")
SOURCES = ["config/settings.py", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "sandbox").rglob("*.py"))]
# Set by Django, the test runner or the shell, not by an operator.
NOT_KASSA_SETTINGS = {"DJANGO_SETTINGS_MODULE", "PYTEST_XDIST_WORKER"}


def variables_read() -> set[str]:
    names = set()
    for source in SOURCES:
        for match in READS.finditer((ROOT / source).read_text()):
            names.add(match.group(1) or match.group(2))
    return names - NOT_KASSA_SETTINGS


def test_the_scan_finds_the_settings():
    assert {"DATABASE_URL", "SECRET_KEY", "SANDBOX_PORT", "SANDBOX_PARTNER_API_KEY"} <= variables_read()


def test_every_variable_is_in_env_example():
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert sorted(variables_read() - listed) == []


def test_every_variable_is_named_in_the_readme_environment_section():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Environment", 1)[1].split("\n## ", 1)[0]
    assert sorted(name for name in variables_read() if f"`{name}`" not in section) == []
