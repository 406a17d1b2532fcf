"""The Examples in jumba_rl's docstrings run and print what they say."""

import doctest
import importlib
import pkgutil

import pytest

import jumba_rl._src

MODULES = sorted(m.name for m in pkgutil.iter_modules(jumba_rl._src.__path__,
                                                      "jumba_rl._src."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
