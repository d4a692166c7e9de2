"""The design card's rule: domain/ imports nothing outside the standard library."""

import ast
import sys
from pathlib import Path

import queuectl

DOMAIN = Path(queuectl.__file__).parent / "domain"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_domain_imports_only_the_standard_library_and_itself():
    offenders = {}
    for path in sorted(DOMAIN.glob("*.py")):
        outside = {name for name in imported_modules(path)
                   if name not in sys.stdlib_module_names and name != "__future__"}
        if outside:
            offenders[path.name] = sorted(outside)
    assert offenders == {}


def test_the_scan_would_catch_a_third_party_import(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text("import sqlalchemy\nfrom pymongo import MongoClient\n")
    assert {"sqlalchemy", "pymongo"} <= imported_modules(sample) - set(sys.stdlib_module_names)


WEB_LIBRARIES = {"starlette", "uvicorn", "jinja2", "prometheus_client"}
DASHBOARD = Path(queuectl.__file__).parent / "entrypoints" / "dashboard"


def test_only_the_dashboard_imports_the_web_libraries():
    package = Path(queuectl.__file__).parent
    offenders = {str(path.relative_to(package)): sorted(imported_modules(path) & WEB_LIBRARIES)
                 for path in package.rglob("*.py")
                 if DASHBOARD not in path.parents and imported_modules(path) & WEB_LIBRARIES}
    assert offenders == {}


def test_the_cli_loads_no_web_library_until_the_dashboard_runs():
    import subprocess

    probe = ("import sys, queuectl.entrypoints.cli; "
             f"print(sorted(m for m in {sorted(WEB_LIBRARIES)!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


PACKAGE = Path(queuectl.__file__).parent


def imports_adapters(path: Path) -> bool:
    """Whether ``path`` imports ``queuectl.adapters`` (or a module under it), at any depth."""
    for node in ast.walk(ast.parse(path.read_text())):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
        if any(name == "queuectl.adapters" or name.startswith("queuectl.adapters.") for name in names):
            return True
    return False


def test_only_the_container_imports_the_adapters():
    importers = {str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                 if PACKAGE / "adapters" not in path.parents and imports_adapters(path)}
    assert importers == {"container.py"}


def test_the_adapter_scan_sees_every_form_of_import(tmp_path):
    forms = ["import queuectl.adapters.processes", "from queuectl.adapters import processes",
             "from queuectl.adapters.sqlite import SqliteStore", "def f():\n    import queuectl.adapters\n"]
    for index, source in enumerate(forms):
        (tmp_path / f"m{index}.py").write_text(source)
    (tmp_path / "clean.py").write_text("from queuectl.domain import ports\nimport queuectl_adapters\n")
    assert [imports_adapters(tmp_path / f"m{index}.py") for index in range(len(forms))] == [True] * len(forms)
    assert not imports_adapters(tmp_path / "clean.py")
