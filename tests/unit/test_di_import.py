"""dependency-injector imported with its unused integrations hidden: providers work, and
every hidden module is importable again afterwards (in a fresh interpreter each)."""

import json
import subprocess
import sys

import pytest

PROBE = """
import importlib, importlib.util, json, sys, types
from queuectl.di_import import ASYNCIO_TLS, UNUSED_INTEGRATIONS, import_dependency_injector

containers, providers = import_dependency_injector()
names = UNUSED_INTEGRATIONS + ASYNCIO_TLS + ("pydantic",)
loaded_by_it = sorted(n for n in names if sys.modules.get(n) is not None)

class Parts(containers.DeclarativeContainer):
    config = providers.Configuration()
    one = providers.Singleton(dict, name=config.name)
    fresh = providers.Factory(list)

parts = Parts()
parts.config.from_dict({"name": "queue"})
works = [parts.one() is parts.one(), parts.one() == {"name": "queue"}, parts.fresh() is not parts.fresh()]
parts.fresh.override(providers.Object(["swapped"]))
works.append(parts.fresh() == ["swapped"])

back = {}
for name in names:
    if importlib.util.find_spec(name.split(".")[0]) is None:
        continue  # not installed here
    try:
        back[name] = isinstance(importlib.import_module(name), types.ModuleType)
    except ImportError as error:
        back[name] = str(error)
print(json.dumps({"loaded_by_it": loaded_by_it, "works": works, "back": back}))
"""


@pytest.fixture(scope="module")
def probe() -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def test_providers_work_when_imported_with_the_integrations_hidden(probe):
    assert probe["works"] == [True, True, True, True]


def test_the_integrations_it_probes_for_are_not_loaded_by_the_import(probe):
    assert probe["loaded_by_it"] == []


def test_every_hidden_module_that_is_installed_is_importable_again_afterwards(probe):
    back = probe["back"]
    assert "starlette" in back and "ssl" in back  # installed with queuectl[dashboard]: the check is not vacuous
    assert back == dict.fromkeys(back, True)
