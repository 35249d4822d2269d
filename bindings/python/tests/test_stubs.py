"""The type stubs (`_core.pyi`, shipped with the package) say what the module really has."""

import ast
import inspect
import pathlib

import pytest

import juhe_2fa
from juhe_2fa import _core

STUB = ast.parse((pathlib.Path(juhe_2fa.__file__).parent / "_core.pyi").read_text())
CLASSES = {node.name: node for node in STUB.body if isinstance(node, ast.ClassDef)}
FUNCTIONS = {node.name: node for node in STUB.body if isinstance(node, ast.FunctionDef)}


def decorators(node):
    return {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "") for d in node.decorator_list}


def test_every_public_name_is_in_the_stub_and_at_runtime():
    runtime = {n for n in dir(_core) if not n.startswith("_")}
    assert runtime == set(CLASSES) | set(FUNCTIONS)
    assert set(juhe_2fa.__all__) - {"__version__"} <= runtime
    for name, node in CLASSES.items():
        stub_members = {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
        if not issubclass(getattr(_core, name), BaseException):  # theirs are per instance
            stub_members |= {
                t.target.id
                for t in node.body
                if isinstance(t, ast.AnnAssign) and isinstance(t.target, ast.Name)
            }
        for member in stub_members:
            assert hasattr(getattr(_core, name), member), f"{name}.{member} is only in the stub"


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_classes_that_cannot_be_subclassed_are_final_in_the_stub(name):
    cls = getattr(_core, name)
    try:
        type("Sub", (cls,), {})
        subclassable = True
    except TypeError:
        subclassable = False
    assert ("final" in decorators(CLASSES[name])) == (not subclassable), name


def parameters(node):
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    return [n for n in names if n not in ("self", "cls")]


@pytest.mark.parametrize("name", ["Client", "AsyncClient", "IdCard", "Mobile", "Sandbox"])
def test_constructors_take_what_the_stub_says(name):
    stub = {f.name: f for f in CLASSES[name].body if isinstance(f, ast.FunctionDef)}
    assert "__new__" in stub, f"{name}: a native class is made by __new__"
    try:
        runtime = list(inspect.signature(getattr(_core, name)).parameters)
    except ValueError:  # CPython < 3.10 shows no signature for a native class (abi3)
        pytest.skip("this Python shows no signature for native classes")
    assert parameters(stub["__new__"]) == runtime


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_functions_take_what_the_stub_says(name):
    runtime = list(inspect.signature(getattr(_core, name)).parameters)
    assert parameters(FUNCTIONS[name]) == runtime
