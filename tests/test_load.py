"""Spec loading: valid specs expand as documented, invalid ones get one message per problem."""

import re
from pathlib import Path

import pytest

from flopsheet.errors import SpecError
from flopsheet.load import load_network

from support import REPO, write_spec

HEADER = "model: {name: x}\nlayers:\n  - {name: data, op: input, channels: 3}\n"

# Each case: spec text, then the expected messages (regular expressions, matched in order).
BAD_SPECS = [
    # Unknown op and field, with the closest name suggested.
    (HEADER + "  - {name: c1, op: conv, out_channels: 3}\n",
     [r"net.yaml:4: layers.1.op: unknown op 'conv' \(did you mean 'conv2d'\?\)"]),
    (HEADER + "  - {name: c1, op: conv2d, out_channel: 3, kernel: 3}\n",
     [r"net.yaml:4: layers.1.out_channel: unknown field 'out_channel' \(did you mean 'out_channels'\?\)"]),
    # One message per problem.
    (HEADER + "  - {name: c1, op: conv2d, out_channels: 0, kernel: 3}\n"
              "  - {name: c2, op: conv2d, out_channels: 8, kernel: 3, from: c9}\n",
     [r"net.yaml:4: layer 'c1': out_channels must be a positive whole number \(found 0\)",
      r"net.yaml:5: layer 'c2': 'from' names unknown layer 'c9': name an earlier layer"]),
    # A reference to a later layer.
    (HEADER + "  - {name: a, op: conv2d, out_channels: 8, kernel: 1, from: later}\n"
              "  - {name: later, op: conv2d, out_channels: 8, kernel: 1}\n",
     [r"net.yaml:4: layer 'a': 'from' names unknown layer 'later' \(it is defined later"]),
    # Shapes that disagree at an add.
    (HEADER + "  - {name: a, op: conv2d, out_channels: 8, kernel: 1}\n"
              "  - {name: b, op: conv2d, out_channels: 4, kernel: 1, from: data}\n"
              "  - {name: s, op: add, from: [a, b]}\n",
     [r"net.yaml:6: layer 's': inputs disagree: 'a' has C_out = 8, 'b' has 4"]),
    # Kernel larger than the input in exact mode.
    ("model: {name: x}\nshape_mode: exact\ninputs: {h: {default: 4}, w: {default: 4}}\nlayers:\n"
     "  - {name: data, op: input, channels: 3}\n  - {name: c1, op: conv2d, out_channels: 8, kernel: 7}\n",
     [r"net.yaml:6: layer 'c1': H_out is -2 at the default inputs: the kernel is larger than the padded input"]),
    # Groups that do not divide the channels.
    (HEADER + "  - {name: g, op: conv2d, out_channels: 8, kernel: 3, groups: 2}\n",
     [r"net.yaml:4: layer 'g': groups = 2 does not divide C_in = 3"]),
    # Names Excel reads as cell references.
    ("model: {name: x}\ninputs: {c1: {default: 2}, fc1: {default: 1}}\nlayers:\n"
     "  - {name: data, op: input, channels: 3}\n",
     [r"net.yaml:2: input name 'c1' cannot be a workbook name: Excel reads it as an R1C1 cell reference",
      r"net.yaml:2: input name 'fc1' cannot be a workbook name: Excel reads it, or its start, as a cell reference"]),
    # Expressions: unknown names and anything that is not arithmetic.
    (HEADER + "  - {name: a, op: conv2d, out_channels: \"2*q\", kernel: 1}\n",
     [r"net.yaml:4: layer 'a': out_channels: unknown name 'q'"]),
    (HEADER + "  - {name: a, op: conv2d, out_channels: \"__import__('os')\", kernel: 1}\n",
     [r"net.yaml:4: layer 'a': out_channels: invalid character"]),
    # YAML problems.
    ("model: {name: x}\nlayers: [\n", [r"net.yaml:2: invalid YAML"]),
    ("", [r"net.yaml: the file is empty"]),
    ("- just\n- a list\n", [r"net.yaml:1: a spec must be a YAML mapping"]),
    ("a: &x [1, 2]\nb: *x\n", [r"net.yaml:2: YAML alias \*x is not supported"]),
    ("model: {name: x}\nmodel: {name: y}\n", [r"net.yaml:2: duplicate key 'model' \(first at line 1\)"]),
    # Missing fields.
    (HEADER + "  - {name: c, op: conv2d, kernel: 3}\n",
     [r"net.yaml:4: layer 'c': op 'conv2d' needs 'out_channels'"]),
    ("model: {name: x}\n", [r"net.yaml:1: layers: missing: add this field"]),
    # A field that does not apply to the op.
    (HEADER + "  - {name: p, op: max_pool2d, kernel: 2, out_channels: 4}\n",
     [r"net.yaml:4: layer 'p': field 'out_channels' does not apply to op 'max_pool2d'"]),
    # Sheet names: too long or with characters Excel forbids.
    ("model: {name: a-very-long-model-name-for-a-sheet-x}\nlayers:\n  - {name: data, op: input, channels: 3}\n",
     [r"net.yaml:1: model name .* cannot name a sheet: Excel limits sheet names to 31 characters"]),
    ("model: {name: \"a:b\"}\nlayers:\n  - {name: data, op: input, channels: 3}\n",
     [r"net.yaml:1: model name 'a:b' cannot name a sheet: Excel forbids :"]),
    # Duplicate layer names.
    (HEADER + "  - {name: data, op: activation}\n",
     [r"net.yaml:4: duplicate layer name 'data' \(first at line 3\)"]),
]


@pytest.mark.parametrize("text, expected", BAD_SPECS)
def test_bad_spec_messages(tmp_path, text, expected):
    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_network(path)
    messages = [str(problem) for problem in caught.value.problems]
    assert len(messages) == len(expected), messages
    for message, pattern in zip(messages, expected):
        assert re.search(pattern, message), message


def test_block_expansion_names_and_labels(tmp_path):
    path = write_spec(tmp_path, """
        model: {name: blocks}
        blocks:
          pair:
            params: {c: 8}
            inputs: [x, skip]
            layers:
              - {name: conv, op: conv2d, out_channels: c, kernel: 1}
              - {name: sum, op: add, from: [conv, skip]}
        layers:
          - {name: data, op: input, channels: 8}
          - {name: p1, use: pair, from: [data, data]}
          - {name: p2, use: pair, from: [p1, p1.conv]}
        """)
    network = load_network(path)
    names = [layer.name for layer in network.layers]
    assert names == ["data", "p1.conv", "p1.sum", "p2.conv", "p2.sum"]
    assert network.layers[3].inputs == ("p1.sum",)
    assert network.layers[4].inputs == ("p2.conv", "p1.conv")
    assert [layer.block for layer in network.layers[1:]] == ["p1", "p1", "p2", "p2"]


def test_same_padding_keeps_size(tmp_path):
    path = write_spec(tmp_path, """
        model: {name: same}
        shape_mode: exact
        inputs: {h: {default: 17}, w: {default: 17}}
        layers:
          - {name: data, op: input, channels: 3}
          - {name: even, op: conv2d, out_channels: 4, kernel: 4, padding: same}
          - {name: strided, op: conv2d, out_channels: 4, kernel: 3, stride: 2, padding: same}
        """)
    network = load_network(path)
    from flopsheet.compute import evaluate
    rows = evaluate(network)
    assert rows[1]["H_out"] == 17
    assert rows[2]["H_out"] == 9   # ceil(17 / 2)


def test_spec_readme_example_loads(tmp_path):
    text = (REPO / "specs" / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    path = tmp_path / "tiny-vgg.yaml"
    path.write_text(example, encoding="utf-8")
    network = load_network(path)
    assert network.name == "tiny-vgg"
    assert len(network.layers) == 14


def test_schema_file_is_current():
    import json
    from flopsheet.spec import json_schema
    shipped = Path(__import__("flopsheet").__file__).parent / "spec.schema.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == json_schema()
