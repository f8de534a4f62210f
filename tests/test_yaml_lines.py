"""YAML with line numbers: the loader over libyaml's C parser reads what the pure Python loader reads."""

from __future__ import annotations

import pytest
import yaml

from flopsheet import yaml_lines

from support import SPECS

pytestmark = pytest.mark.skipif(yaml_lines._FastLoader is None, reason="PyYAML was built without libyaml")

SNIPPETS = [
    "a: {b: 1, c: [1, 2, {d: 3}]}\n",
    "a: 'it''s'\nb: \"x\\ny\"\nc: >-\n  folded\n  text\n",
    "a: 1e3\nb: 0x1F\nc: 0o17\nd: 1_000\ne: .inf\nf: yes\ng: ~\n",
    "a: |\n  line1\n  line2\n",
    "\ufeffa: 1\r\nb: 2\r\n",
    "a: 12345678901234567890123456789\n",
    "# only a comment\n",
    "",
]
INVALID = [
    "a: &x 1\nb: *x\n",
    "a: [1, 2\n",
    "a:\n\t- 1\n",
    "a: 1\na: 2\n",
    "? [1,2]\n: 3\n",
    "a: " + "9" * 500 + "\n",
    "---\na: 1\n---\nb: 2\n",
    "a: \x07\n",
    "[" * 60 + "]" * 60,
    "a: !!python/object:os.system ls\n",
    "a: 'unterminated\n",
]


def same_document(left, right) -> None:
    assert type(left) is type(right)
    if isinstance(left, yaml_lines.LineDict):
        assert (left.line, left.key_lines, list(left)) == (right.line, right.key_lines, list(right))
        for key in left:
            same_document(left[key], right[key])
    elif isinstance(left, yaml_lines.LineList):
        assert (left.line, left.item_lines, len(left)) == (right.line, right.item_lines, len(right))
        for a, b in zip(left, right):
            same_document(a, b)
    else:
        assert left == right


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")) + sorted(SPECS.glob("zoo/*.yaml")),
                         ids=lambda path: path.name)
def test_fast_loader_reads_specs_alike(path):
    text = path.read_text(encoding="utf-8")
    same_document(yaml.load(text, Loader=yaml_lines._FastLoader), yaml.load(text, Loader=yaml_lines._Loader))


@pytest.mark.parametrize("text", SNIPPETS)
def test_fast_loader_reads_snippets_alike(text):
    same_document(yaml.load(text, Loader=yaml_lines._FastLoader), yaml.load(text, Loader=yaml_lines._Loader))


@pytest.mark.parametrize("text", INVALID)
def test_fast_loader_rejects_what_python_loader_rejects(text):
    with pytest.raises(Exception):
        yaml.load(text, Loader=yaml_lines._Loader)
    with pytest.raises(Exception):
        yaml.load(text, Loader=yaml_lines._FastLoader)


@pytest.mark.parametrize("text", INVALID)
def test_load_reports_python_loader_errors(text):
    # load() falls back to the Python loader for the message, so it names PyYAML's problem and line.
    with pytest.raises(yaml_lines.YamlError) as error:
        yaml_lines.load(text)
    try:
        yaml.load(text, Loader=yaml_lines._Loader)
    except yaml_lines.YamlError as python_error:
        assert (error.value.line, str(error.value)) == (python_error.line, str(python_error))
    except yaml.YAMLError:
        assert str(error.value).startswith("invalid YAML: ")
