"""A catalog of broken and hostile inputs, each with its exact message, through the real command line.

Every case must print one line per problem that names the file and line (or the
path), states what is wrong and how to fix it, exit with code 2 without a
traceback, write nothing, and leave an output folder that an earlier build
filled exactly as it was.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from flopsheet.cli import main
from flopsheet.conventions import BY_NAME as CONVENTION_NAMES
from flopsheet.spec import OP_NAMES

HEAD = "model: {name: net}\nlayers:\n  - {name: data, op: input, channels: 3}\n"


def layers(*entries: str) -> str:
    """Return HEAD followed by one layer per entry. The first entry is on line 4."""
    return HEAD + "".join(f"  - {entry}\n" for entry in entries)


def with_input(name: str) -> str:
    """Return a spec that declares the input ``name`` on line 2."""
    return f"model: {{name: net}}\ninputs: {{{name}: {{default: 2}}}}\nlayers:\n  - {{name: data, op: input, channels: 3}}\n"


def named(model_name: str) -> str:
    """Return a spec whose model name is on line 1."""
    return f"model: {{name: {model_name}}}\nlayers:\n  - {{name: data, op: input, channels: 3}}\n"


YAML_HINT = "check the indentation (spaces, not tabs), brackets and quotes on this line"
QUANTITY = "must be a number, or an arithmetic expression in quotes"
PAIR = "must be a number, an expression in quotes, or [height, width]"
GRAMMAR = "use numbers, names, + - * / ^ and parentheses"
NO_NAMES = "use numbers (names are allowed only for a block's parameters)"
R1C1 = "Excel reads it as an R1C1 cell reference (R, C, R1C1, ...); rename it"
A1 = "Excel reads it, or its start, as a cell reference such as B1 or AB12; rename it"
LONG_NAME = "resnet50-with-a-very-long-suffix"   # 8 + 5 + 2 + 5 + 5 + 7 = 32 characters
NOT_A_FILE = "cannot name a file: remove '/', '\\' and control characters"
# Ten thousand nested lists, and a billion-laughs bomb: nine aliases of nine aliases of ...
DEEP = "model: " + "[" * 10_000 + "]" * 10_000 + "\n"
BOMB = ("model: {name: net}\n"
        "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n")

# Each case: spec text (str or bytes) written to net.yaml, then the exact lines of stderr.
# "{spec}" stands for the spec's path.
CASES = [
    # YAML syntax errors: what PyYAML found, on which line, and what to check.
    pytest.param("model: {name: net}\nlayers: [\n",
                 ["{spec}:2: invalid YAML: expected the node content, but found '<stream end>': " + YAML_HINT],
                 id="yaml-unclosed-bracket"),
    pytest.param("model:\n\tname: net\n",
                 ["{spec}:2: invalid YAML: found character '\\t' that cannot start any token: " + YAML_HINT],
                 id="yaml-tab-indent"),
    pytest.param("model: {name: 'net}\nlayers: []\n",
                 ["{spec}:2: invalid YAML: found unexpected end of stream: " + YAML_HINT],
                 id="yaml-unclosed-quote"),
    pytest.param("model: {name: net}\nmodel: {name: other}\n",
                 ["{spec}:2: duplicate key 'model' (first at line 1): remove one of them"],
                 id="yaml-duplicate-key"),
    pytest.param("model: {name: net}\n---\nmodel: {name: other}\n",
                 ["{spec}:2: invalid YAML: expected a single document in the stream, but found another "
                  "document: keep one spec per file and remove the second '---' document"],
                 id="yaml-two-documents"),
    pytest.param("model: !!python/object:os.system {name: net}\n",
                 ["{spec}:1: invalid YAML: could not determine a constructor for the tag "
                  "'tag:yaml.org,2002:python/object:os.system': remove the tag, as specs hold plain values"],
                 id="yaml-python-tag"),
    pytest.param("? [a, b]\n: 1\n",
                 ["{spec}:1: mapping key ['a', 'b'] is not a plain name: use a name or a number as the key"],
                 id="yaml-list-as-key"),
    pytest.param("model: {name: net}\x07\n",
                 ["{spec}:1: invalid YAML: the character U+0007 is not allowed in YAML: remove it"],
                 id="yaml-control-character"),

    # Files that hold no spec: empty, comments only, not a mapping, not text at all.
    pytest.param("",
                 ["{spec}: the file is empty: write a spec with 'model' and 'layers' (see specs/README.md)"],
                 id="empty-file"),
    pytest.param("# only a comment\n",
                 ["{spec}: the file is empty: write a spec with 'model' and 'layers' (see specs/README.md)"],
                 id="comments-only"),
    pytest.param("- model\n- layers\n",
                 ["{spec}:1: a spec must be a YAML mapping with 'model' and 'layers', not a list: "
                  "start with 'model:' and 'layers:' lines"],
                 id="list-document"),
    pytest.param("just some words\n",
                 ["{spec}:1: a spec must be a YAML mapping with 'model' and 'layers', not text: "
                  "start with 'model:' and 'layers:' lines"],
                 id="text-document"),
    # The first byte that is not UTF-8 is \xff at offset 2.
    pytest.param(b"\x00\x01\xff\xfe binary",
                 ["{spec}: not a UTF-8 text file (byte 2): save the spec as UTF-8 YAML"],
                 id="binary-file"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01",
                 ["{spec}: not a UTF-8 text file (byte 0): save the spec as UTF-8 YAML"],
                 id="png-file"),

    # Hostile YAML: an alias bomb and deep nesting fail at once, as does an enormous number.
    pytest.param(BOMB,
                 ["{spec}:3: YAML alias *a is not supported: write the value out, or define a block and use it"],
                 id="billion-laughs"),
    pytest.param(DEEP,
                 ["{spec}:1: YAML nested deeper than 50 levels: a spec needs only a few levels, "
                  "so remove the extra nesting"],
                 id="nested-10000-lists"),
    pytest.param(HEAD.replace("channels: 3", "channels: " + "9" * 5000),
                 ["{spec}:3: a number of 5000 characters is too long: Excel's numbers end near 1E+308, "
                  "so write a smaller number"],
                 id="number-of-5000-digits"),

    # Wrong types: one message per field, with what the field takes.
    pytest.param(named("yes"),
                 ["{spec}:1: model.name: must be text (found True): put it in quotes, because YAML reads "
                  "yes, no, true, false, numbers and dates as other types"],
                 id="name-read-as-boolean"),
    pytest.param(HEAD.replace("channels: 3", "channels: [3]"),
                 ["{spec}:3: layers.0.channels: " + QUANTITY + " (found [3])"],
                 id="channels-list"),
    pytest.param(layers("{name: c, op: conv2d, out_channels: 8, kernel: {size: 3}}"),
                 ["{spec}:4: layers.1.kernel: " + PAIR + " (found {'size': 3})"],
                 id="kernel-mapping"),
    pytest.param(layers("{name: c, op: conv2d, out_channels: 8, kernel: 3, bias: 'no'}"),
                 ["{spec}:4: layers.1.bias: must be true or false (found 'no')"],
                 id="bias-text"),
    pytest.param("model: {name: net}\nlayers: 3\n",
                 ["{spec}:2: layers: must be a list (found 3): write [a, b] or one '- item' per line"],
                 id="layers-number"),
    pytest.param("model: {name: net}\nshape_mode: fast\nlayers:\n  - {name: data, op: input, channels: 3}\n",
                 ["{spec}:2: shape_mode: must be 'ideal' or 'exact' (found 'fast')"],
                 id="shape-mode-unknown"),
    pytest.param("model: {name: net}\nlayers:\n  - data\n",
                 ["{spec}:3: layers.0: must be a mapping (found 'data'): write 'key: value' pairs"],
                 id="layer-not-mapping"),

    # Unknown ops and fields, with the closest name suggested.
    pytest.param(layers("{name: c, op: conv, out_channels: 8, kernel: 3}"),
                 ["{spec}:4: layers.1.op: unknown op 'conv' (did you mean 'conv2d'?): use one of "
                  + ", ".join(OP_NAMES)],
                 id="unknown-op"),
    pytest.param(layers("{name: c, op: conv2d, out_channel: 8, kernel: 3}"),
                 ["{spec}:4: layers.1.out_channel: unknown field 'out_channel' (did you mean 'out_channels'?): "
                  "remove it or fix its spelling"],
                 id="unknown-layer-field"),
    pytest.param("model: {name: net, titel: A network}\nlayers:\n  - {name: data, op: input, channels: 3}\n",
                 ["{spec}:1: model.titel: unknown field 'titel' (did you mean 'title'?): remove it or fix its spelling"],
                 id="unknown-model-field"),
    pytest.param("model: {name: net}\nlayer:\n  - {name: data, op: input, channels: 3}\n",
                 ["{spec}:1: layers: missing: add this field",
                  "{spec}:2: layer: unknown field 'layer' (did you mean 'layers'?): remove it or fix its spelling"],
                 id="unknown-top-level-key"),
    pytest.param("model: {name: net}\nconventions: {bias_param: 1}\nlayers:\n  - {name: data, op: input, channels: 3}\n",
                 ["{spec}:2: unknown convention 'bias_param' (did you mean 'bias_params'?): use one of "
                  + ", ".join(CONVENTION_NAMES) + ", or 'preset'"],
                 id="unknown-convention"),
    pytest.param(layers("{name: p, op: max_pool2d, kernel: 2, out_channels: 4}"),
                 ["{spec}:4: layer 'p': field 'out_channels' does not apply to op 'max_pool2d': remove it "
                  "(it accepts ceil_mode, dilation, kernel, padding, stride)"],
                 id="field-of-another-op"),

    # Missing and duplicate names.
    pytest.param(layers("{op: activation}"),
                 ["{spec}:4: layers.1.name: missing: add this field"],
                 id="layer-without-name"),
    pytest.param(layers("{name: data, op: activation}"),
                 ["{spec}:4: duplicate layer name 'data' (first at line 3): rename one of them"],
                 id="duplicate-layer-name"),
    pytest.param("model: {name: net}\n",
                 ["{spec}:1: layers: missing: add this field"],
                 id="missing-layers"),
    pytest.param("layers:\n  - {name: data, op: input, channels: 3}\n",
                 ["{spec}:1: model: missing: add this field"],
                 id="missing-model"),

    # References to unknown or later layers and blocks.
    pytest.param(layers("{name: c, op: conv2d, out_channels: 8, kernel: 1, from: dta}"),
                 ["{spec}:4: layer 'c': 'from' names unknown layer 'dta' (did you mean 'data'?): name an earlier layer"],
                 id="from-unknown-layer"),
    pytest.param(layers("{name: a, op: conv2d, out_channels: 8, kernel: 1, from: later}",
                        "{name: later, op: conv2d, out_channels: 8, kernel: 1}"),
                 ["{spec}:4: layer 'a': 'from' names unknown layer 'later' (it is defined later: "
                  "a layer may only read earlier layers): name an earlier layer"],
                 id="from-later-layer"),
    pytest.param(layers("{name: up, op: upsample, size_of: dat}"),
                 ["{spec}:4: layer 'up': size_of names unknown layer 'dat' (did you mean 'data'?): name an earlier layer"],
                 id="size-of-unknown-layer"),
    pytest.param("model: {name: net}\nblocks:\n  stage: {layers: [{name: c, op: conv2d, out_channels: 8, kernel: 3}]}\n"
                 "layers:\n  - {name: data, op: input, channels: 3}\n  - {name: s1, use: stag}\n",
                 ["{spec}:6: layer 's1': unknown block 'stag' (did you mean 'stage'?): define it under 'blocks'"],
                 id="unknown-block"),

    # Shapes that disagree at add, multiply and concat. A 2 x 2 max pool halves 224 to 112.
    pytest.param(layers("{name: a, op: conv2d, out_channels: 8, kernel: 1}",
                        "{name: b, op: conv2d, out_channels: 4, kernel: 1, from: data}",
                        "{name: s, op: add, from: [a, b]}"),
                 ["{spec}:6: layer 's': inputs disagree: 'a' has C_out = 8, 'b' has 4; add needs equal shapes"],
                 id="add-channels"),
    pytest.param(layers("{name: a, op: max_pool2d, kernel: 2}",
                        "{name: b, op: activation, from: data}",
                        "{name: s, op: add, from: [a, b]}"),
                 ["{spec}:6: layer 's': inputs disagree: 'a' has H_out = 112, 'b' has 224; add needs equal shapes"],
                 id="add-spatial"),
    pytest.param(layers("{name: a, op: conv2d, out_channels: 8, kernel: 1}",
                        "{name: b, op: conv2d, out_channels: 4, kernel: 1, from: data}",
                        "{name: m, op: multiply, from: [a, b]}"),
                 ["{spec}:6: layer 'm': inputs disagree: 'a' has C_out = 8, 'b' has 4; multiply needs equal shapes"],
                 id="multiply-channels"),
    pytest.param(layers("{name: a, op: max_pool2d, kernel: 2}",
                        "{name: b, op: conv2d, out_channels: 5, kernel: 1, from: data}",
                        "{name: m, op: multiply, from: [a, b]}"),
                 ["{spec}:6: layer 'm': inputs disagree: 'a' has C_out = 3, 'b' has 5; multiply needs equal shapes"],
                 id="multiply-spatial"),
    pytest.param(layers("{name: a, op: max_pool2d, kernel: 2}",
                        "{name: b, op: conv2d, out_channels: 5, kernel: 1, from: data}",
                        "{name: c, op: concat, from: [a, b]}"),
                 ["{spec}:6: layer 'c': inputs disagree: 'a' has H_out = 112, 'b' has 224; concat needs equal sizes"],
                 id="concat-spatial"),

    # Sizes: non-positive, fractional, malformed, and a kernel larger than its input.
    pytest.param(layers("{name: c, op: conv2d, out_channels: 0, kernel: 3}"),
                 ["{spec}:4: layer 'c': out_channels must be a positive whole number (found 0)"],
                 id="zero-channels"),
    pytest.param(HEAD.replace("channels: 3", "channels: -3"),
                 ["{spec}:3: layer 'data': channels must be a positive whole number (found -3)"],
                 id="negative-channels"),
    pytest.param(HEAD.replace("channels: 3", "channels: 2.5"),
                 ["{spec}:3: layer 'data': channels must be a positive whole number (found 2.5)"],
                 id="fractional-channels"),
    pytest.param(layers("{name: c, op: conv2d, out_channels: 8, kernel: [3]}"),
                 ["{spec}:4: layer 'c': kernel must be one value or [height, width] (found 1 values)"],
                 id="kernel-one-item-list"),
    pytest.param(layers("{name: c, op: conv2d, out_channels: 8, kernel: 3, stride: 0}"),
                 ["{spec}:4: layer 'c': stride must be a positive whole number (found 0)"],
                 id="stride-zero"),
    pytest.param(layers("{name: c, op: conv2d, out_channels: 8, kernel: 3, padding: -1}"),
                 ["{spec}:4: layer 'c': padding must not be negative (found -1)"],
                 id="negative-padding"),
    # Exact mode, 4 x 4 input, 7 x 7 kernel: floor((4 - 6 - 1) / 1) + 1 = -2.
    pytest.param("model: {name: net}\nshape_mode: exact\ninputs: {h: {default: 4}, w: {default: 4}}\nlayers:\n"
                 "  - {name: data, op: input, channels: 3}\n  - {name: c1, op: conv2d, out_channels: 8, kernel: 7}\n",
                 ["{spec}:6: layer 'c1': H_out is -2 at the default inputs: the kernel is larger than the padded "
                  "input: use a larger input, more padding or a smaller kernel"],
                 id="kernel-larger-than-input"),
    pytest.param(layers("{name: g, op: conv2d, out_channels: 8, kernel: 3, groups: 2}"),
                 ["{spec}:4: layer 'g': groups = 2 does not divide C_in = 3: use a divisor of both channel counts"],
                 id="groups-not-dividing"),

    # Expressions: unknown names, division by zero, and anything that is not arithmetic.
    pytest.param(layers("{name: c, op: conv2d, out_channels: '2*q', kernel: 1}"),
                 ["{spec}:4: layer 'c': out_channels: unknown name 'q': " + NO_NAMES],
                 id="expression-unknown-name"),
    pytest.param(layers("{name: c, op: conv2d, out_channels: '3/0', kernel: 1}"),
                 ["{spec}:4: layer 'c': out_channels: division by zero: use a non-zero divisor"],
                 id="expression-division-by-zero"),
    pytest.param(layers("{name: c, op: conv2d, out_channels: \"__import__('os')\", kernel: 1}"),
                 ["{spec}:4: layer 'c': out_channels: invalid character \"'\" in \"__import__('os')\": " + GRAMMAR],
                 id="expression-import"),
    pytest.param(layers("{name: c, op: conv2d, out_channels: 'h.real', kernel: 1}"),
                 ["{spec}:4: layer 'c': out_channels: invalid character '.' in 'h.real': " + GRAMMAR],
                 id="expression-attribute"),
    pytest.param(layers("{name: c, op: conv2d, out_channels: 'abs(3)', kernel: 1}"),
                 ["{spec}:4: layer 'c': out_channels: unexpected '(' in 'abs(3)': function calls are not "
                  "supported: " + GRAMMAR],
                 id="expression-call"),
    pytest.param(layers("{name: c, op: conv2d, out_channels: '2**3', kernel: 1}"),
                 ["{spec}:4: layer 'c': out_channels: unexpected '*' in '2**3': write powers with ^, not **"],
                 id="expression-double-star"),
    pytest.param(layers("{name: c, op: conv2d, out_channels: '(2+3', kernel: 1}"),
                 ["{spec}:4: layer 'c': out_channels: missing ')' in '(2+3': close every parenthesis"],
                 id="expression-unclosed"),
    # 9^9^9 is 9^387420489. Its size bound is 387420489 x 4 bits (9 takes 4 bits) = 1549681956.
    pytest.param(layers("{name: c, op: conv2d, out_channels: '9^9^9', kernel: 1}"),
                 ["{spec}:4: layer 'c': out_channels: the power 9^387420489 is too large (about 1549681956 bits): "
                  "Excel's numbers end near 1E+308, so use a smaller exponent"],
                 id="expression-tower-of-powers"),
    pytest.param(layers("{name: c, op: conv2d, out_channels: '10^400', kernel: 1}"),
                 ["{spec}:4: layer 'c': out_channels: '10^400' is beyond Excel's largest number (about 1E+308): "
                  "use a smaller number"],
                 id="expression-beyond-excel"),
    pytest.param(layers("{name: c, op: conv2d, out_channels: 8, kernel: 1, repeat: 'n'}"),
                 ["{spec}:4: layer 'c': repeat uses unknown name 'n': declare it under 'inputs'"],
                 id="repeat-unknown-name"),

    # Input names that Excel rejects as defined names, or that collide ignoring case.
    *[pytest.param(with_input(name), [f"{{spec}}:2: input name {name!r} cannot be a workbook name: " + rule],
                   id=f"input-name-{name}")
      for name, rule in (("r", R1C1), ("c", R1C1), ("R", R1C1), ("C", R1C1), ("R1C1", R1C1),
                         ("b1", A1), ("fc1", A1), ("bn1", A1), ("c1_macs", A1))],
    pytest.param("model: {name: net}\ninputs: {N: {default: 2}, n: {default: 3}}\nlayers:\n"
                 "  - {name: data, op: input, channels: 3}\n",
                 ["{spec}:2: input name 'n' differs from 'N' only in case, and Excel names ignore case: "
                  "rename one of them"],
                 id="inputs-differ-in-case"),
    pytest.param(with_input("H"),
                 ["{spec}:2: input name 'H' differs from 'h' only in case, and Excel names ignore case: "
                  "rename one of them"],
                 id="input-shadows-h"),
    pytest.param(with_input("BIAS_OPS"),
                 ["{spec}:2: input name 'BIAS_OPS' is reserved for a convention or a column of the layer "
                  "table: rename it"],
                 id="input-is-convention"),

    # Model names that cannot name a sheet or a file.
    pytest.param(named(LONG_NAME),
                 [f"{{spec}}:1: model name {LONG_NAME!r} cannot name a sheet: Excel limits sheet names to 31 "
                  "characters (32 here); rename the model"],
                 id="model-name-32-characters"),
    *[pytest.param(named(f"'a{char}b'"),
                   [f"{{spec}}:1: model name 'a{char}b' cannot name a sheet: Excel forbids {char} in sheet names; "
                    "rename the model"],
                   id=f"model-name-with-{char}")
      for char in "[]:*?"],
    pytest.param(named("'a/b'"),
                 ["{spec}:1: model name 'a/b' cannot name a sheet: Excel forbids / in sheet names; rename the model",
                  "{spec}:1: model name 'a/b' " + NOT_A_FILE],
                 id="model-name-with-slash"),
    pytest.param(named("'a\\b'"),
                 ["{spec}:1: model name 'a\\\\b' cannot name a sheet: Excel forbids \\ in sheet names; "
                  "rename the model",
                  "{spec}:1: model name 'a\\\\b' " + NOT_A_FILE],
                 id="model-name-with-backslash"),
    pytest.param(named('"a\\tb"'),
                 ["{spec}:1: model name 'a\\tb' " + NOT_A_FILE],
                 id="model-name-with-tab"),
    pytest.param(named("SUMMARY"),
                 ["{spec}:1: model name 'SUMMARY' is taken by a sheet of the workbook: choose another"],
                 id="model-name-summary"),
    pytest.param(named("Reconciliation"),
                 ["{spec}:1: model name 'Reconciliation' is taken by a sheet of the workbook: choose another"],
                 id="model-name-reconciliation"),
    pytest.param(named("Comparison"),
                 ["{spec}:1: model name 'Comparison' is taken by the files that compare several specs "
                  "(comparison.xlsx, comparison-sweep.png, ...): choose another"],
                 id="model-name-comparison"),
]

# Cases run a second time through `python -m flopsheet.cli`, to see the real stderr of a process.
SUBPROCESS_CASES = {"yaml-python-tag", "binary-file", "billion-laughs", "nested-10000-lists",
                    "number-of-5000-digits", "expression-import", "expression-tower-of-powers",
                    "model-name-with-tab"}

EARLIER = """
model: {name: earlier, title: An earlier build}
layers:
  - {name: data, op: input, channels: 3}
  - {name: conv, op: conv2d, out_channels: 4, kernel: 3, padding: 1}
"""


@pytest.fixture(scope="module")
def earlier_output(tmp_path_factory) -> Path:
    """Return a folder filled by a successful build, to copy into each case's output folder."""
    folder = tmp_path_factory.mktemp("earlier")
    spec = folder / "earlier.yaml"
    spec.write_text(EARLIER, encoding="utf-8")
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(folder / "out")])
    assert result.exit_code == 0, result.output
    return folder / "out"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Return every file under ``folder`` (hidden ones too) by relative path, with its bytes."""
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def expected_lines(lines: list[str], **places) -> list[str]:
    """Replace each "{key}" in ``lines`` by its value in ``places`` (messages hold other braces)."""
    result = []
    for line in lines:
        for key, value in places.items():
            line = line.replace("{" + key + "}", str(value))
        result.append(line)
    return result


def run_failing_build(tmp_path: Path, earlier: Path, paths: list[str]):
    """Build into a copy of an earlier build's output; check it fails cleanly and changes nothing."""
    out = tmp_path / "out"
    shutil.copytree(earlier, out)
    before = snapshot(out)
    result = CliRunner().invoke(main, ["build", *paths, "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert snapshot(out) == before
    return result


@pytest.mark.parametrize("content, lines", CASES)
def test_bad_spec(tmp_path, earlier_output, content, lines):
    spec = write(tmp_path / "net.yaml", content)
    result = run_failing_build(tmp_path, earlier_output, [str(spec)])
    assert result.stderr.splitlines() == expected_lines(lines, spec=spec)


@pytest.mark.parametrize("content, lines", [case for case in CASES if case.id in SUBPROCESS_CASES])
def test_bad_spec_in_a_process(tmp_path, content, lines):
    spec = write(tmp_path / "net.yaml", content)
    out = tmp_path / "out"
    process = subprocess.run([sys.executable, "-m", "flopsheet.cli", "build", str(spec), "-o", str(out)],
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    assert process.stderr.splitlines() == expected_lines(lines, spec=spec)
    assert process.stdout == ""
    assert not out.exists()


def test_catalog_size():
    # The catalog is meant to cover at least forty distinct broken or hostile specs.
    assert len({case.id for case in CASES}) == len(CASES) >= 40


# Several specs built together: the names must differ ignoring case. Names are never
# truncated, so two long names that share their first 31 characters are each rejected.
SEVERAL = [
    pytest.param({"a.yaml": named("Net"), "b.yaml": named("net")},
                 ["{dir}/b.yaml:1: model name 'net' is also used by {dir}/a.yaml, and names must differ "
                  "ignoring case: rename one of the models"],
                 id="names-differ-in-case"),
    pytest.param({"a.yaml": named(LONG_NAME), "b.yaml": named(LONG_NAME[:-1] + "y")},
                 [f"{{dir}}/a.yaml:1: model name {LONG_NAME!r} cannot name a sheet: Excel limits sheet names "
                  "to 31 characters (32 here); rename the model",
                  f"{{dir}}/b.yaml:1: model name {LONG_NAME[:-1] + 'y'!r} cannot name a sheet: Excel limits "
                  "sheet names to 31 characters (32 here); rename the model"],
                 id="names-share-31-characters"),
    pytest.param({"a.yaml": named("one"), "b.yaml": layers("{name: c, op: warp}").replace("name: net", "name: two")},
                 ["{dir}/b.yaml:4: layers.1.op: unknown op 'warp': use one of " + ", ".join(OP_NAMES)],
                 id="one-bad-spec-of-two"),
]


@pytest.mark.parametrize("files, lines", SEVERAL)
def test_several_specs(tmp_path, earlier_output, files, lines):
    specs = tmp_path / "specs"
    specs.mkdir()
    for name, content in files.items():
        write(specs / name, content)
    result = run_failing_build(tmp_path, earlier_output, [str(specs)])
    assert result.stderr.splitlines() == expected_lines(lines, dir=specs)


def test_folder_without_specs(tmp_path, earlier_output):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a spec", encoding="utf-8")
    result = run_failing_build(tmp_path, earlier_output, [str(empty)])
    assert result.stderr == f"{empty}: no spec files (*.yaml or *.yml) in this folder: add specs or give another folder\n"


def test_missing_spec_file(tmp_path, earlier_output):
    missing = tmp_path / "missing.yaml"
    result = run_failing_build(tmp_path, earlier_output, [str(missing)])
    assert result.stderr == f"{missing}: file not found: check the path\n"


def test_device_as_spec(tmp_path, earlier_output):
    if not Path("/dev/zero").exists():
        pytest.skip("/dev/zero does not exist on this system")
    result = run_failing_build(tmp_path, earlier_output, ["/dev/zero"])
    assert result.stderr == "/dev/zero: is not a regular file: give a YAML spec file\n"


# Output paths that cannot be used. Permission bits do not stop root, and the tests may run as
# root, so they use paths that fail for every user.

GOOD = layers("{name: c, op: conv2d, out_channels: 4, kernel: 3}")


def test_output_path_is_a_file(tmp_path):
    spec = write(tmp_path / "net.yaml", GOOD)
    blocker = write(tmp_path / "taken", "keep me")
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(blocker)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {blocker}: is a file, not a folder: choose another output path with -o\n"
    assert blocker.read_text(encoding="utf-8") == "keep me"


def test_output_path_under_a_file(tmp_path):
    spec = write(tmp_path / "net.yaml", GOOD)
    blocker = write(tmp_path / "taken", "keep me")
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(blocker / "out")])
    assert result.exit_code == 2
    assert result.stderr == (f"error: {blocker / 'out'}: cannot create the output folder: Not a directory: "
                             "choose another output path with -o\n")
    assert blocker.read_text(encoding="utf-8") == "keep me"


def test_output_path_in_proc(tmp_path):
    # procfs refuses new folders to every user, root included.
    if not os.path.ismount("/proc"):
        pytest.skip("/proc is not mounted, so there is no folder that refuses even root")
    spec = write(tmp_path / "net.yaml", GOOD)
    result = CliRunner().invoke(main, ["build", str(spec), "-o", "/proc/flopsheet-out"])
    assert result.exit_code == 2
    assert result.stderr == ("error: /proc/flopsheet-out: cannot create the output folder: No such file or "
                             "directory: choose another output path with -o\n")


def test_folder_in_the_way_changes_nothing(tmp_path, earlier_output):
    # net.xlsx is a folder, so the build fails after writing to staging. No file may have moved.
    out = tmp_path / "out"
    shutil.copytree(earlier_output, out)
    (out / "net.xlsx").mkdir()
    before = snapshot(out)
    spec = write(tmp_path / "net.yaml", GOOD)
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(out)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {out / 'net.xlsx'}: a folder is in the way of an output file: move it\n"
    assert snapshot(out) == before
    assert sorted(path.name for path in out.iterdir()) == sorted(
        ["earlier.md", "earlier.pdf", "earlier.png", "earlier.xlsx", "net.xlsx"])


# Numbers with more significant digits than Excel keeps get a warning that names the field, and
# another that names the workbook cells whose computed values have too many digits. The exit code
# is 0. {C_out}, {MACs} and {Params} are those columns' letters on the model sheet.
ROUNDING = "round it, or expect the workbook's last digits to differ from the report's"
CELLS = ("net.xlsx, sheet 'net', cells {C_out}3, {MACs}3, {Params}3, {MACs}4, {Params}4: warning: whole "
         "numbers with more than 15 significant digits, which Excel rounds: expect their last digits to "
         "differ from the report's")
WARNINGS = [
    # C_out has 19 digits, so do MACs (224·224·3 per output channel) and Params (3 per output channel).
    pytest.param(layers("{name: c, op: conv2d, out_channels: 1234567890123456789, kernel: 1}"),
                 ["{spec}:4: warning: layer 'c': out_channels: 1234567890123456789 has 19 significant digits, "
                  "but Excel keeps 15, so the workbook holds 1.23456789012346e+18: " + ROUNDING, CELLS],
                 id="integer-19-digits"),
    # 2 x 12345678901234567 = 24691357802469134: the value written has 17 significant digits.
    pytest.param(layers("{name: c, op: conv2d, out_channels: '2*12345678901234567', kernel: 1}"),
                 ["{spec}:4: warning: layer 'c': out_channels: 24691357802469134 has 17 significant digits, "
                  "but Excel keeps 15, so the workbook holds 2.46913578024691e+16: " + ROUNDING, CELLS],
                 id="expression-17-digits"),
    pytest.param("model: {name: net}\ninputs: {n: {default: '0.1234567890123456789'}}\nlayers:\n"
                 "  - {name: data, op: input, channels: 3}\n  - {name: c, op: conv2d, out_channels: 4, kernel: 1, "
                 "repeat: 'n*1000'}\n",
                 ["{spec}:2: warning: inputs.n.default: 0.1234567890123456789 has 19 significant digits, "
                  "but Excel keeps 15, so the workbook holds 0.123456789012346: " + ROUNDING],
                 id="decimal-19-digits"),
    # 1000000000000000000000 has one significant digit, which Excel stores exactly, so no warning.
    pytest.param(layers("{name: c, op: conv2d, out_channels: 4, kernel: 1, repeat: '1000000000000000000000'}"),
                 [],
                 id="round-number-no-warning"),
]


@pytest.mark.parametrize("content, lines", WARNINGS)
def test_precision_warning(tmp_path, content, lines):
    spec = write(tmp_path / "net.yaml", content)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    columns = column_letters(out / "net.xlsx", "net")
    assert result.stderr.splitlines() == expected_lines(lines, spec=spec, **columns)


def column_letters(workbook: Path, sheet: str) -> dict[str, str]:
    """Return the column letter of each header of a model sheet."""
    header = next(openpyxl.load_workbook(workbook)[sheet].iter_rows(max_row=1))
    return {cell.value: cell.column_letter for cell in header if cell.value}


def test_precision_warning_names_workbook_cells(tmp_path):
    # 100001 x 100003 positions = 10,000,400,003. Times 1001 filters = 10,010,400,403,003, times
    # 3·7·7 = 147 weights each = 1,471,528,859,241,441 MACs: 16 significant digits, in the MACs
    # cell of the layer (row 3) and of the total (row 4). Parameters (147,147) and sizes stay short.
    spec = write(tmp_path / "net.yaml", "model: {name: net}\ninputs: {h: {default: 100001}, w: {default: 100003}}\n"
                 "layers:\n  - {name: data, op: input, channels: 3}\n"
                 "  - {name: c, op: conv2d, out_channels: 1001, kernel: 7, padding: 3}\n")
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(tmp_path / "out"), "--no-report"])
    assert result.exit_code == 0, result.output
    macs = column_letters(tmp_path / "out" / "net.xlsx", "net")["MACs"]
    assert result.stderr == (f"net.xlsx, sheet 'net', cells {macs}3, {macs}4: warning: whole numbers with more "
                             "than 15 significant digits, which Excel rounds: expect their last digits to "
                             "differ from the report's\n")


# Names that a spreadsheet would run as formulas stay text, in the workbook and in CSV.
FORMULA_NAMES = """
model: {name: net}
layers:
  - {name: "=1+1", op: input, channels: 3}
  - {name: "+cmd", op: conv2d, out_channels: 4, kernel: 3, block: "=SUM(A1:A9)"}
  - {name: "-x", op: conv2d, out_channels: 4, kernel: 3, block: "@block"}
  - {name: "@HYPERLINK(1)", op: activation}
"""


def test_formula_like_names_stay_text(tmp_path):
    spec = write(tmp_path / "net.yaml", FORMULA_NAMES)
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(tmp_path / "out" / "net.xlsx")["net"]
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    for name in ("=1+1", "+cmd", "-x", "@HYPERLINK(1)"):
        assert cells[name][0].data_type == "s", name
    blocks = {row[1].value: row[1].data_type for row in sheet.iter_rows(min_row=2) if row[1].value}
    assert blocks["=SUM(A1:A9)"] == "s"
    assert blocks["@block"] == "s"


def test_formula_like_names_quoted_in_csv(tmp_path):
    spec = write(tmp_path / "net.yaml", FORMULA_NAMES)
    result = CliRunner().invoke(main, ["show", str(spec), "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert [row[0] for row in rows[1:5]] == ["'=1+1", "'+cmd", "'-x", "'@HYPERLINK(1)"]
    assert rows[2][1] == "'=SUM(A1:A9)"
    assert rows[3][1] == "'@block"


# Typst and Markdown markup in names and titles: shown as written, never run.
MARKUP = """
model:
  name: markup
  title: '#panic("x") *bold* [link] `code` $x^2$ <label> @ref // not a comment'
  source: '#set page(width: 1cm) $\\frac$'
  description: '== not a heading'
layers:
  - {name: "#data", op: input, channels: 3}
  - {name: "*conv*", op: conv2d, out_channels: 4, kernel: 3, block: "`stem` [1]"}
  - {name: "$x$", op: conv2d, out_channels: 4, kernel: 3, block: "<b> @me // c"}
"""


def test_markup_is_escaped_in_reports(tmp_path):
    spec = write(tmp_path / "markup.yaml", MARKUP)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""

    markdown = (out / "markup.md").read_text(encoding="utf-8")
    assert markdown.startswith("# \\#panic\\(\"x\"\\) \\*bold\\* \\[link\\] \\`code\\` \\$x^2\\$ "
                               "\\<label\\> \\@ref // not a comment\n")
    assert "Source: \\#set page\\(width: 1cm\\) \\$\\\\frac\\$" in markdown
    assert "| \\`stem\\` \\[1\\] |" in markdown
    assert "| \\<b\\> \\@me // c |" in markdown
    assert "| \\*conv\\* |" in markdown

    pdf = out / "markup.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is missing, so the PDF's text is not checked")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    text = " ".join(text.split())   # the PDF wraps long lines
    assert '#panic("x") *bold* [link] `code` $x^2$ <label> @ref // not a comment' in text
    assert "#set page(width: 1cm) $\\frac$" in text
    assert "== not a heading" in text


# Names in Chinese and with accents work everywhere, though the PDF's and chart's fonts may lack
# the glyphs.
UNICODE = """
model: {name: 网络, title: Réseau à deux étages}
layers:
  - {name: 数据, op: input, channels: 3}
  - {name: 卷积, op: conv2d, out_channels: 4, kernel: 3, block: 主干}
  - {name: café, op: max_pool2d, kernel: 2, block: 主干}
"""


def test_non_ascii_names_build(tmp_path):
    spec = write(tmp_path / "网络.yaml", UNICODE)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert all(": warning: " in line for line in result.stderr.splitlines()), result.stderr
    assert sorted(path.name for path in out.iterdir()) == ["网络.md", "网络.pdf", "网络.png", "网络.xlsx"]

    book = openpyxl.load_workbook(out / "网络.xlsx")
    assert "网络" in book.sheetnames
    names = [row[0].value for row in book["网络"].iter_rows(min_row=2, max_row=4)]
    assert names == ["数据", "卷积", "café"]

    markdown = (out / "网络.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Réseau à deux étages\n")
    assert "| 主干 |" in markdown
    assert "](%E7%BD%91%E7%BB%9C.png)" in markdown   # the chart link, percent-encoded
    assert (out / "网络.pdf").read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(out / "网络.pdf"), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "Réseau à deux étages" in text
