"""The monorepo's packages are installed, importable and declare their metadata."""

import importlib
import importlib.metadata
import pathlib
import re
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# (folder under packages/, distribution name, import name)
SIBLINGS = [
    ("nn", "jumba-nn", "jumba_nn"),
    ("optim", "jumba-optim", "jumba_optim"),
    ("rl", "jumba-rl", "jumba_rl"),
    ("pytree_models", "jumba-pytree-models", "jumba_pytree_models"),
]
ALL = [("core", "jumba", "jumba"), *SIBLINGS]


def _pyproject(folder):
    with open(ROOT / "packages" / folder / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _requirement_name(requirement):
    name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize(("folder", "dist", "module"), SIBLINGS, ids=[s[0] for s in SIBLINGS])
def test_sibling_imports_with_version(folder, dist, module):
    mod = importlib.import_module(module)
    assert isinstance(mod.__version__, str)
    assert mod.__version__ == importlib.metadata.version(dist)
    assert (pathlib.Path(mod.__file__).parent / "py.typed").is_file()


@pytest.mark.parametrize(("folder", "dist", "module"), ALL, ids=[s[0] for s in ALL])
def test_pyproject_names_distribution(folder, dist, module):
    project = _pyproject(folder)["project"]
    assert project["name"] == dist
    assert project["license"] == "Apache-2.0"
    assert project["requires-python"] == ">=3.11"
    # The installed distribution is the one in this tree, not a same-named one from PyPI.
    assert importlib.metadata.version(dist) == project["version"]


@pytest.mark.parametrize(("folder", "dist", "module"), SIBLINGS, ids=[s[0] for s in SIBLINGS])
def test_sibling_depends_on_jumba(folder, dist, module):
    deps = _pyproject(folder)["project"]["dependencies"]
    assert "jumba" in {_requirement_name(d) for d in deps}


def test_root_is_not_a_package():
    with open(ROOT / "pyproject.toml", "rb") as f:
        root = tomllib.load(f)
    assert "project" not in root
    assert "build-system" not in root
