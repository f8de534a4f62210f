"""Property-based tests: random valid specs agree with LibreOffice, random broken specs never crash.

Hypothesis runs derandomized (a fixed seed), without deadlines, with budgets that keep
this file at about a minute on two cores. Tests marked ``libreoffice`` run soffice and
fail, not skip, when it is missing.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flopsheet.cli import main
from oracles import as_number, recalculate, set_inputs

from support import REPO, SPECS

SETTINGS = dict(derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# Random valid specs. The generator tracks each layer's (C, H, W) at the default inputs and at a
# second set of inputs, using only ops whose sizes it computes the same way in both shape modes: same-padded convs
# and pools keep the size, an unpadded 3 x 3 conv takes 2 off, a stride-2 pool or conv halves an
# even size, upsampling doubles it.

SMALL_CONVENTIONS = {"bias_params": [0, 1], "bias_ops": [0, 1], "pool_window_ops": [1, 2],
                     "bn_ops": [0, 2], "bn_batch_ops": [0, 2], "bilinear_ops": [4, 8],
                     "nearest_ops": [0, 1], "add_ops": [1, 2], "multiply_ops": [1, 3]}


@st.composite
def valid_specs(draw) -> dict:
    mode = draw(st.sampled_from(["ideal", "exact"]))
    sizes = {name: [8 * draw(st.integers(2, 8)), 8 * draw(st.integers(2, 8))] for name in ("h", "w")}
    batch = [draw(st.integers(1, 4)), draw(st.integers(1, 4))]
    channels = draw(st.integers(1, 4))
    layers = [{"name": "data", "op": "input", "channels": channels}]
    # name -> (C, [H at defaults, H at the second inputs], [W, W])
    shapes = {"data": (channels, list(sizes["h"]), list(sizes["w"]))}
    last = "data"
    for index in range(draw(st.integers(1, 9))):
        kind = draw(st.sampled_from(["conv", "shrink", "halve", "norm", "upsample", "residual", "branches"]))
        block = draw(st.sampled_from([None, None, "stem", "body", "head"]))
        new = _layers(draw, kind, f"l{index}", last, shapes)
        for layer in new:
            if block:
                layer["block"] = block
        layers += new
        last = new[-1]["name"]
    if draw(st.booleans()):
        if draw(st.booleans()):
            layers.append({"name": "gap", "op": "global_avg_pool"})
        layers.append({"name": "fc", "op": "linear", "out_features": draw(st.integers(1, 10)),
                       "flatten": draw(st.booleans()), "bias": draw(st.booleans())})
    conventions = {name: draw(st.sampled_from(values))
                   for name, values in SMALL_CONVENTIONS.items() if draw(st.booleans())}
    return {"model": {"name": "random", "title": "A random network"}, "shape_mode": mode,
            "inputs": {"h": {"default": sizes["h"][0]}, "w": {"default": sizes["w"][0]},
                       "b": {"default": batch[0]}},
            "conventions": conventions, "layers": layers,
            "second": {"h": sizes["h"][1], "w": sizes["w"][1], "b": batch[1]}}


def _layers(draw, kind: str, name: str, source: str, shapes: dict) -> list[dict]:
    """Return the layers of one step reading ``source``, and record their shapes."""
    c, h, w = shapes[source]
    out = draw(st.integers(1, 8))
    if kind == "shrink" and min(h + w) > 4:
        layer = {"name": name, "op": "conv2d", "out_channels": out, "kernel": 3, "from": source}
        shapes[name] = (out, [x - 2 for x in h], [x - 2 for x in w])
        return [layer]
    if kind == "halve" and all(x % 2 == 0 and x >= 4 for x in h + w):
        op = draw(st.sampled_from(["max_pool2d", "avg_pool2d", "conv2d"]))
        if op == "conv2d":
            layer = {"name": name, "op": op, "out_channels": out, "kernel": 3, "stride": 2, "padding": 1}
        else:
            layer = {"name": name, "op": op, "kernel": 2}
            out = c
        shapes[name] = (out, [x // 2 for x in h], [x // 2 for x in w])
        return [dict(layer, **{"from": source})]
    if kind == "norm":
        op = draw(st.sampled_from(["batch_norm", "activation"]))
        shapes[name] = (c, h, w)
        return [{"name": name, "op": op, "from": source}]
    if kind == "upsample" and max(h + w) <= 64:
        shapes[name] = (c, [2 * x for x in h], [2 * x for x in w])
        return [{"name": name, "op": "upsample", "mode": draw(st.sampled_from(["bilinear", "nearest"])),
                 "scale": 2, "from": source}]
    if kind == "residual":
        # A same-padded conv back to C channels, added to (or multiplied with) its input.
        conv = _same_conv(draw, f"{name}a", source, c, c, shapes)
        op = draw(st.sampled_from(["add", "multiply"]))
        shapes[name] = (c, h, w)
        return [conv, {"name": name, "op": op, "from": [source, conv["name"]]}]
    if kind == "branches":
        first = _same_conv(draw, f"{name}a", source, c, out, shapes)
        second = _same_conv(draw, f"{name}b", source, c, draw(st.integers(1, 8)), shapes)
        shapes[name] = (shapes[first["name"]][0] + shapes[second["name"]][0], h, w)
        return [first, second, {"name": name, "op": "concat", "from": [first["name"], second["name"]]}]
    return [_same_conv(draw, name, source, c, out, shapes)]


def _same_conv(draw, name: str, source: str, c_in: int, c_out: int, shapes: dict) -> dict:
    kernel = draw(st.sampled_from([1, 3, 5]))
    dilation = draw(st.sampled_from([1, 1, 2]))
    layer = {"name": name, "op": "conv2d", "out_channels": c_out, "kernel": kernel,
             "padding": dilation * (kernel - 1) // 2, "dilation": dilation, "from": source,
             "bias": draw(st.booleans())}
    if c_in == c_out and draw(st.booleans()):
        layer["groups"] = c_in   # depthwise
    _, h, w = shapes[source]
    shapes[name] = (c_out, h, w)
    return layer


def _write(folder: Path, spec: dict, name: str = "random.yaml") -> Path:
    path = folder / name
    body = {key: value for key, value in spec.items() if key != "second"}
    path.write_text(yaml.safe_dump(body, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _show(spec_path: Path, inputs: dict) -> dict:
    settings_args = [arg for name, value in inputs.items() for arg in ("--set", f"{name}={value}")]
    result = CliRunner().invoke(main, ["show", str(spec_path), "--format", "json", *settings_args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _sheet_rows(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    """Return a model sheet's layer rows by layer name, each as {column header: exported text}."""
    header = rows[0]
    return {row[0]: dict(zip(header, row)) for row in rows[1:]
            if row and row[0] and row[0] not in ("Subtotal", "Total")}


@pytest.mark.libreoffice
@settings(max_examples=8, **SETTINGS)
@given(spec=valid_specs())
def test_random_specs_match_libreoffice(spec):
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        path = _write(folder, spec)
        result = CliRunner().invoke(main, ["build", str(path), "-o", str(folder / "out"), "--no-report"])
        assert result.exit_code == 0, result.output

        # openpyxl saves formulas without cached results, so LibreOffice computes every cell.
        expected = _show(path, spec["second"])
        edited = folder / "edited.xlsx"
        set_inputs(folder / "out" / "random.xlsx", edited, spec["second"])
        sheets = recalculate(edited, folder)

        summary = sheets["Summary"]
        assert summary[0][1:3] == ["MACs", "Params"]
        assert as_number(summary[1][1]) == pytest.approx(expected["totals"]["macs"], rel=1e-12)
        assert as_number(summary[1][2]) == pytest.approx(expected["totals"]["params"], rel=1e-12)
        rows = _sheet_rows(sheets["random"])
        for layer in expected["layers"]:
            row = rows[layer["layer"]]
            assert as_number(row["MACs"]) == pytest.approx(layer["macs"], rel=1e-12), layer["layer"]
            assert as_number(row["Params"]) == pytest.approx(layer["params"], rel=1e-12), layer["layer"]
            assert as_number(row["H_out"]) == pytest.approx(layer["h_out"], rel=1e-12), layer["layer"]


# Random mutations of valid specs: whatever the damage, the command line exits with 0 or 2 and
# never prints a traceback or an internal error.

MARKUP = "#*_[]()`$<>@/\\{}=+-:;'\"!|~^&%?., \t\n"
UNICODE = "网络数据卷积éàüßÆøŁ€→∑√∞😀\u200b\u202e\u0301\ufeff"
TEXT = st.text(alphabet=st.sampled_from(MARKUP + UNICODE + "abcxyz019"), max_size=40)
GARBAGE = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10), st.integers(-10**30, 10**30),
    st.floats(allow_nan=True, allow_infinity=True), TEXT,
    st.sampled_from(["2*q", "3/0", "9^9^9", "__import__('os')", "h.real", "abs(3)", "2**3", "(((",
                     "same", "valid", "conv2d", "data", "1e400", "-1", "0", "0.5", "12345678901234567890"]),
    st.lists(st.integers(-3, 9), max_size=3), st.dictionaries(TEXT, st.integers(0, 3), max_size=2),
)


def _base_specs() -> list[dict]:
    bases = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(SPECS.glob("*.yaml"))]
    readme = (REPO / "specs" / "README.md").read_text(encoding="utf-8")
    bases.append(yaml.safe_load(readme.split("```yaml\n", 1)[1].split("```", 1)[0]))
    return bases


BASES = _base_specs()


def _places(node, path=()) -> list[tuple]:
    """Return the path of every mapping value and list item in a parsed spec."""
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _places(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _places(value, path + (index,))
    return found


def _parent(document, path: tuple):
    node = document
    for step in path[:-1]:
        node = node[step]
    return node


@st.composite
def mutated_specs(draw) -> str:
    document = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        places = [place for place in _places(document) if place]
        place = draw(st.sampled_from(places))
        parent = _parent(document, place)
        action = draw(st.sampled_from(["delete", "replace", "insert", "rename", "swap"]))
        if action == "delete":
            del parent[place[-1]]
        elif action == "replace":
            parent[place[-1]] = draw(GARBAGE)
        elif action == "insert" and isinstance(parent, dict):
            parent[draw(st.one_of(TEXT, st.sampled_from(["kernel", "from", "op", "use", "repeat"])))] = draw(GARBAGE)
        elif action == "rename":
            _rename(draw, document)
        elif action == "swap":
            _swap_names(draw, document)
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    if draw(st.integers(0, 4)) == 0:
        # Damage the text itself: cut it, or insert characters that YAML may not accept.
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(TEXT) + text[cut + draw(st.integers(0, 5)):]
    return text


def _named_entries(document) -> list[dict]:
    entries = [entry for entry in document.get("layers", []) if isinstance(entry, dict) and "name" in entry]
    if isinstance(document.get("model"), dict):
        entries.append(document["model"])
    return entries


def _rename(draw, document) -> None:
    entries = _named_entries(document)
    if entries:
        entry = draw(st.sampled_from(entries))
        field = draw(st.sampled_from(["name", "title", "block", "source"]))
        entry[field] = draw(TEXT)


def _swap_names(draw, document) -> None:
    entries = [entry for entry in _named_entries(document) if "op" in entry or "use" in entry]
    if len(entries) >= 2:
        first, second = draw(st.sampled_from(entries)), draw(st.sampled_from(entries))
        first["name"], second["name"] = second["name"], first["name"]


def _assert_clean(result) -> None:
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr


@settings(max_examples=250, **SETTINGS)
@given(text=mutated_specs(), command=st.sampled_from([["check"], ["show", "--format", "csv"],
                                                      ["show", "--format", "json"]]))
def test_mutated_specs_never_crash(text, command):
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "mutated.yaml"
        path.write_text(text, encoding="utf-8")
        result = CliRunner().invoke(main, [command[0], str(path), *command[1:]])
        _assert_clean(result)


@settings(max_examples=15, **SETTINGS)
@given(text=mutated_specs())
def test_mutated_specs_build_or_fail_cleanly(text):
    # A full build also renders the reports, where names and titles meet Markdown, Typst and matplotlib.
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "mutated.yaml"
        path.write_text(text, encoding="utf-8")
        out = Path(scratch) / "out"
        result = CliRunner().invoke(main, ["build", str(path), "-o", str(out)])
        _assert_clean(result)
        if result.exit_code == 2:
            assert not out.exists() or not any(out.iterdir())


def _decorate(spec: dict, texts: list[str]) -> dict:
    """Return the spec with its title, source, layer names and block labels taken from ``texts``."""
    spec = copy.deepcopy(spec)
    spec["model"]["title"], spec["model"]["source"] = texts[0], texts[1]
    # A number suffix keeps names unique and non-empty, so every decorated spec stays valid.
    renamed = {layer["name"]: f"{texts[(i + 2) % len(texts)]}{i}" for i, layer in enumerate(spec["layers"])}
    for layer in spec["layers"]:
        layer["name"] = renamed[layer["name"]]
        if "from" in layer:
            sources = layer["from"]
            layer["from"] = [renamed[name] for name in sources] if isinstance(sources, list) else renamed[sources]
        if "block" in layer:
            layer["block"] = texts[-1] or "block"
    return spec


@settings(max_examples=10, **SETTINGS)
@given(spec=valid_specs(), texts=st.lists(TEXT, min_size=3, max_size=6))
def test_markup_names_build(spec, texts):
    # Titles, layer names and block labels in any script, full of markup, are valid: the build succeeds.
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        path = _write(folder, _decorate(spec, texts))
        result = CliRunner().invoke(main, ["build", str(path), "-o", str(folder / "out")])
        _assert_clean(result)
        assert result.exit_code == 0, result.output
        assert all(": warning: " in line for line in result.stderr.splitlines()), result.stderr
        assert (folder / "out" / "random.pdf").read_bytes().startswith(b"%PDF")
        assert (folder / "out" / "random.md").stat().st_size > 0
