"""Loading a spec file: YAML with line numbers, validation, and expansion of blocks into layers."""

from __future__ import annotations

import difflib
import logging
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Mapping

from pydantic import ValidationError

from . import compute, excel_numbers, expr, yaml_lines
from . import conventions as conv
from .errors import Problem, SpecError, location
from .names import defined_name_problem, sheet_name_problem
from .network import Claim, InputParam, Layer, Network
from .ops import HYPERPARAMETERS, REGISTRY
from .presets import PRESETS, preset_values
from .spec import OP_NAMES, LayerEntry, Spec

STANDARD_INPUTS = {
    "h": (Fraction(224), "Input height in pixels"),
    "w": (Fraction(224), "Input width in pixels"),
    "b": (Fraction(1), "Batch size (batch norm's training statistics depend on it)"),
}
MAX_LAYERS = 200_000
log = logging.getLogger(__name__)
MAX_BLOCK_DEPTH = 10

# Fields each op accepts, besides name, op, from, block, repeat and share_weights.
OP_FIELDS: dict[str, set[str]] = {
    "input": {"channels"},
    "feedback": {"channels", "scale", "of"},
    "conv2d": {"out_channels", "kernel", "stride", "padding", "dilation", "groups", "bias"},
    "conv_transpose2d": {"out_channels", "kernel", "stride", "padding", "dilation", "groups",
                         "output_padding", "bias"},
    "max_pool2d": {"kernel", "stride", "padding", "dilation", "ceil_mode"},
    "avg_pool2d": {"kernel", "stride", "padding", "ceil_mode"},
    "adaptive_avg_pool": {"output_size"},
    "global_avg_pool": set(),
    "batch_norm": set(),
    "linear": {"out_features", "flatten", "bias"},
    "upsample": {"mode", "scale", "size_of"},
    "add": set(), "multiply": set(), "concat": set(),
    "activation": {"function"},
}
REQUIRED_FIELDS = {
    "input": ("channels",), "feedback": ("channels", "scale", "of"), "conv2d": ("out_channels", "kernel"),
    "conv_transpose2d": ("out_channels", "kernel"), "max_pool2d": ("kernel",),
    "avg_pool2d": ("kernel",), "linear": ("out_features",), "adaptive_avg_pool": ("output_size",),
}
_COMMON_FIELDS = {"name", "op", "from_", "block", "repeat", "share_weights"}
_FIELD_ALIASES = {"from_": "from", "with_": "with"}


def suggest(word: str, choices) -> str:
    """Return ' (did you mean X?)' for the closest choice, or ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_network(path: Path | str) -> Network:
    """Read, validate and expand a spec file; raise SpecError naming every problem found."""
    path = Path(path)
    return load_text(_read_text(path), path)


def load_text(text: str, path: Path, check: bool = True) -> Network:
    """Validate and expand the spec ``text``; ``path`` names it in messages and becomes Network.path.

    With ``check`` false, shapes are not checked at the default inputs (flopsheet.export_spec
    loads intermediate specs whose channel counts do not agree yet).
    """
    try:
        document = yaml_lines.load(text)
    except yaml_lines.YamlError as error:
        raise SpecError([Problem(location(path, error.line), str(error))]) from None
    if document is None:
        raise SpecError([Problem(str(path), "the file is empty: write a spec with 'model' and 'layers' "
                                            "(see specs/README.md)")])
    if not isinstance(document, dict):
        raise SpecError([Problem(location(path, getattr(document, "line", 1)),
                                 "a spec must be a YAML mapping with 'model' and 'layers', "
                                 f"not {_kind_of(document)}: start with 'model:' and 'layers:' lines")])
    try:
        spec = Spec.model_validate(document)
    except ValidationError as error:
        raise SpecError(_validation_problems(error, document, path)) from None
    builder = _Builder(spec, document, path, text)
    network = builder.build()
    if check:
        compute.check(network, compute.evaluate(network))
    for warning in dict.fromkeys(builder.warnings):
        log.warning("%s: warning: %s", warning.where, warning.message)
    return network


def _kind_of(value) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return "a single value"


def _read_text(path: Path) -> str:
    if path.exists() and not path.is_file() and not path.is_dir():
        # Reading a device such as /dev/zero or a named pipe would never end.
        raise SpecError([Problem(str(path), "is not a regular file: give a YAML spec file")])
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SpecError([Problem(str(path), "file not found: check the path")]) from None
    except IsADirectoryError:
        raise SpecError([Problem(str(path), "is a folder, not a spec file")]) from None
    except OSError as error:
        raise SpecError([Problem(str(path), f"cannot read the file: {error.strerror}")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError([Problem(str(path), f"not a UTF-8 text file (byte {error.start}): "
                                            "save the spec as UTF-8 YAML")]) from None


def _validation_problems(error: ValidationError, document, path: Path) -> list[Problem]:
    # pydantic reports a value that fits no member of a union (a number, an expression or a list)
    # once per member, with the member's tag appended to the location: one message per field instead.
    groups: dict[tuple, list[dict]] = {}
    for item in error.errors():
        loc = tuple(_FIELD_ALIASES.get(step, step) if isinstance(step, str) else step
                    for step in item["loc"])
        field_loc = loc if item["type"] == "missing" else _document_prefix(document, loc)
        groups.setdefault(field_loc, []).append(dict(item, loc=loc))
    problems = []
    for loc, items in groups.items():
        line = yaml_lines.line_of(document, loc)
        if items[0]["type"] == "extra_forbidden":
            # The key's own line: its value may start on the next line.
            line = getattr(yaml_lines.node_at(document, loc[:-1]), "key_lines", {}).get(loc[-1], line)
        field = ".".join(str(step) for step in loc)
        if len(items) == 1 and items[0]["loc"] == loc:
            message = _describe_validation_error(items[0], loc, document)
        else:
            message = _describe_union_error(loc, items[0].get("input"))
        problems.append(Problem(location(path, line), f"{field}: {message}"))
    return problems


def _document_prefix(document, loc: tuple) -> tuple:
    """Return the longest start of ``loc`` that exists in the document (dropping union member tags)."""
    node = document
    for depth, step in enumerate(loc):
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return loc[:depth]
    return loc


def _short_repr(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


_PAIR_FIELDS = {"kernel", "stride", "dilation", "output_padding", "scale", "output_size"}
_QUANTITY = "a number, or an arithmetic expression in quotes"


def _describe_union_error(loc: tuple, value) -> str:
    field = loc[-1]
    if field == "from":
        expected = "a layer name, or a list of layer names"
    elif field == "padding":
        expected = "a number, an expression in quotes, [height, width], 'same' or 'valid'"
    elif field in _PAIR_FIELDS:
        expected = "a number, an expression in quotes, or [height, width]"
    else:
        expected = _QUANTITY
    return f"must be {expected} (found {_short_repr(value)})"


def _describe_validation_error(item: dict, loc: tuple, document) -> str:
    kind = item["type"]
    value = item.get("input")
    if kind == "extra_forbidden":
        known = _known_keys(loc)
        return f"unknown field {loc[-1]!r}{suggest(loc[-1], known)}: remove it or fix its spelling"
    if kind == "literal_error" and loc[-1] == "op":
        return (f"unknown op {_short_repr(value)}{suggest(value, OP_NAMES)}: "
                f"use one of {', '.join(OP_NAMES)}")
    if kind == "missing":
        return "missing: add this field"
    if kind == "string_type":
        return (f"must be text (found {_short_repr(value)}): put it in quotes, because YAML reads yes, no, "
                "true, false, numbers and dates as other types")
    if kind == "bool_type":
        return f"must be true or false (found {_short_repr(value)})"
    if kind == "list_type":
        return f"must be a list (found {_short_repr(value)}): write [a, b] or one '- item' per line"
    if kind in ("dict_type", "model_type"):
        return f"must be a mapping (found {_short_repr(value)}): write 'key: value' pairs"
    if kind in ("too_short", "string_too_short"):
        return f"must not be empty (found {_short_repr(value)}): fill it in"
    if kind == "literal_error":
        return f"{item['msg'].replace('Input should be', 'must be')} (found {_short_repr(value)})"
    return f"{item['msg']} (found {_short_repr(value)})"


def _known_keys(loc: tuple) -> list[str]:
    models = {"model": "ModelInfo", "inputs": "InputDef", "blocks": "BlockDef"}
    if len(loc) == 1:
        return list(Spec.model_fields)
    if "layers" in loc:
        return [f.alias or name for name, f in LayerEntry.model_fields.items()]
    from . import spec as spec_module
    model = getattr(spec_module, models.get(loc[0], "Spec"))
    return [f.alias or name for name, f in model.model_fields.items()]


@dataclass
class _Scope:
    """Names visible to a group of layers: local layer names and block arguments."""

    prefix: str
    names: dict[str, str]
    args: Mapping[str, Fraction]
    label: str | None
    repeat: expr.Expr | None
    share_weights: bool
    depth: int


class _Builder:
    """Turns a validated Spec into a Network, collecting every problem."""

    def __init__(self, spec: Spec, document, path: Path, text: str):
        self.spec = spec
        self.document = document
        self.path = path
        self.text = text
        self.problems: list[Problem] = []
        # Problems that do not stop the build, such as numbers Excel rounds.
        self.warnings: list[Problem] = []
        self.layers: list[Layer] = []
        self.global_names: dict[str, Layer] = {}
        # Every instance of a block evaluates the same fields again: _constant's results by
        # (value, arguments, line, field), and each layer entry's given fields by the entry's id.
        self._constants: dict[tuple, Fraction] = {}
        self._given: dict[int, set[str]] = {}

    def problem(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(location(self.path, line), message))

    def line(self, *path) -> int | None:
        return yaml_lines.line_of(self.document, path)

    def build(self) -> Network:
        self._check_model()
        inputs = self._inputs()
        input_names = {p.name for p in inputs}
        conventions = self._conventions()
        top = _Scope(prefix="", names={}, args={}, label=None, repeat=None,
                     share_weights=False, depth=0)
        self.input_names = input_names
        self._expand(self.spec.layers, top, ("layers",), default_from=None)
        self._check_feedback()
        claims = self._claims()
        if self.problems:
            raise SpecError(self.problems)
        info = self.spec.model
        return Network(name=info.name, title=info.title or info.name, source=info.source,
                       description=info.description, shape_mode=self.spec.shape_mode,
                       inputs=inputs, conventions=conventions, layers=tuple(self.layers),
                       path=self.path, text=self.text, claims=claims, preset=self.preset)

    def _claims(self) -> tuple[Claim, ...]:
        claims = []
        for index, claim in enumerate(self.spec.claims):
            line = self.line("claims", index)
            where = f"claim {claim.name!r}"
            value = self._claim_expression(claim.value, line, f"{where}: value")
            terms = None
            if claim.terms is not None:
                terms = self._claim_expression(claim.terms, line, f"{where}: terms")
            layers, scope = self._claim_scope(claim, line, where)
            at = self._claim_inputs(claim, line, where)
            if value is None or (claim.terms is not None and terms is None) or scope is None or at is False:
                continue
            claims.append(Claim(claim.name, claim.kind, value, terms, layers, scope, claim.note, line,
                                per_pass=claim.per_pass, at=at))
        return tuple(claims)

    def _claim_inputs(self, claim, line, where: str):
        """Return the inputs a claim was evaluated at, None for symbolic claims, False on a problem."""
        if claim.at is None:
            return None
        values = {}
        for name, value in claim.at.items():
            if name not in self.input_names:
                self.problem(line, f"{where}: 'at' names unknown input {name!r}"
                                   f"{suggest(name, self.input_names)}")
                return False
            number = self._constant(value, {}, line, f"{where}: at.{name}")
            if number is None:
                return False
            values[name] = number
        return values

    def _claim_expression(self, text, line, field: str):
        try:
            tree = expr.parse(text)
        except expr.ExpressionError as error:
            self.problem(line, f"{field}: {error}: write the figure with numbers, inputs and + - * / ^")
            return None
        self._check_precision(text, line, field)
        unknown = tree.names() - self.input_names
        if unknown:
            name = sorted(unknown)[0]
            self.problem(line, f"{field}: unknown name {name!r}{suggest(name, self.input_names)}: "
                               f"use the inputs ({', '.join(sorted(self.input_names))})")
            return None
        return tree

    def _claim_scope(self, claim, line, where: str):
        if claim.layers is not None and claim.block is not None:
            self.problem(line, f"{where}: give 'layers' or 'block', not both")
            return None, None
        if claim.block is not None:
            found = tuple(layer.name for layer in self.layers if layer.block == claim.block)
            if not found:
                labels = {layer.block for layer in self.layers if layer.block}
                self.problem(line, f"{where}: no layer has block label {claim.block!r}"
                                   f"{suggest(claim.block, labels)}")
                return None, None
            return found, f"block {claim.block}"
        if claim.layers is None:
            return None, "total"
        found: list[str] = []
        for name in claim.layers:
            members = [layer.name for layer in self.layers
                       if layer.name == name or layer.name.startswith(name + ".")]
            if not members:
                self.problem(line, f"{where}: unknown layer {name!r}"
                                   f"{suggest(name, [layer.name for layer in self.layers])}: "
                                   "name a layer or a block use")
                return None, None
            found.extend(m for m in members if m not in found)
        return tuple(found), ", ".join(claim.layers)

    def _check_feedback(self) -> None:
        order = {layer.name: index for index, layer in enumerate(self.layers)}
        for index, layer in enumerate(self.layers):
            target = layer.feedback_of
            if target is None:
                continue
            if target not in order:
                self.problem(layer.line, f"layer {layer.name!r}: 'of' names unknown layer {target!r}"
                                         f"{suggest(target, order)}")
            elif order[target] <= index:
                self.problem(layer.line, f"layer {layer.name!r}: 'of' must name a later layer; "
                                         f"{target!r} comes earlier, so read it with 'from'")

    # Model, inputs and conventions.

    def _check_model(self) -> None:
        name = self.spec.model.name
        problem = sheet_name_problem(name)
        if problem:
            self.problem(self.line("model", "name"),
                         f"model name {name!r} cannot name a sheet: {problem}; rename the model")
        if (any(ch in name for ch in "/\\") or name in (".", "..")
                or any(unicodedata.category(ch) == "Cc" for ch in name)):
            self.problem(self.line("model", "name"), f"model name {name!r} cannot name a file: "
                                                     "remove '/', '\\' and control characters")
        lowered = name.lower()
        if lowered in ("inputs", "conventions", "summary", "spec", "reconciliation"):
            self.problem(self.line("model", "name"),
                         f"model name {name!r} is taken by a sheet of the workbook: choose another")
        if lowered in ("comparison", "comparison-sweep"):
            self.problem(self.line("model", "name"),
                         f"model name {name!r} is taken by the files that compare several specs "
                         "(comparison.xlsx, comparison-sweep.png, ...): choose another")

    def _inputs(self) -> tuple[InputParam, ...]:
        params = []
        declared = dict(self.spec.inputs)
        # Excel's defined names ignore case, so h and H, or N and n, would name one cell.
        taken = {name.lower(): name for name in STANDARD_INPUTS if name not in declared}
        reserved = {name.lower() for name in conv.BY_NAME}
        for name, (default, description) in STANDARD_INPUTS.items():
            if name not in declared:
                params.append(InputParam(name, default, description))
        for name, definition in declared.items():
            line = self.line("inputs", name)
            problem = defined_name_problem(name)
            if problem:
                self.problem(line, f"input name {name!r} cannot be a workbook name: {problem}; rename it")
                continue
            if name.lower() in reserved or name in _RULE_NAMES:
                self.problem(line, f"input name {name!r} is reserved for a convention or a column "
                                   "of the layer table: rename it")
                continue
            if name.lower() in taken:
                self.problem(line, f"input name {name!r} differs from {taken[name.lower()]!r} only in case, "
                                   "and Excel names ignore case: rename one of them")
                continue
            taken[name.lower()] = name
            value = self._constant(definition.default, {}, line, f"inputs.{name}.default")
            if value is not None and value <= 0:
                self.problem(line, f"inputs.{name}.default: must be positive (found {value}): "
                                   "use a positive number")
                value = None
            if value is None:
                continue
            description = definition.description or STANDARD_INPUTS.get(name, (0, ""))[1]
            params.append(InputParam(name, value, description))
        order = {name: i for i, name in enumerate(STANDARD_INPUTS)}
        params.sort(key=lambda p: order.get(p.name, len(order)))
        return tuple(params)

    def _conventions(self) -> dict[str, Fraction]:
        overrides = {}
        base = self._preset()
        for name, value in self.spec.conventions.items():
            line = self.line("conventions", name)
            if name == "preset":
                continue
            if name not in conv.BY_NAME:
                self.problem(line, f"unknown convention {name!r}{suggest(name, conv.BY_NAME)}: "
                                   f"use one of {', '.join(conv.BY_NAME)}, or 'preset'")
                continue
            number = self._constant(value, {}, line, f"conventions.{name}")
            if number is not None:
                if number < 0:
                    self.problem(line, f"conventions.{name}: must not be negative (found {number})")
                    continue
                overrides[name] = number
        values = dict(base)
        values.update(overrides)
        return values

    def _preset(self) -> dict[str, Fraction]:
        """Return the values of the spec's convention preset (the defaults without one)."""
        self.preset = None
        name = self.spec.conventions.get("preset")
        if name is None:
            return conv.resolve({})
        if name not in PRESETS:
            self.problem(self.line("conventions", "preset"),
                         f"unknown convention preset {name!r}{suggest(name, PRESETS)}: "
                         f"use one of {', '.join(PRESETS)}")
            return conv.resolve({})
        self.preset = name
        return preset_values(name)

    def _constant(self, value, args: Mapping[str, Fraction], line, field: str) -> Fraction | None:
        """Evaluate a quantity with the block arguments ``args``; record a problem and return None on failure."""
        try:
            key = (type(value), value, tuple(args.items()), line, field)
            known = self._constants.get(key)
        except TypeError:
            key = known = None
        if known is not None:
            # The warnings of the first evaluation were recorded then; the same ones again would be dropped.
            return known
        try:
            number = expr.evaluate_number(expr.parse(value), args)
        except expr.UnknownNameError as error:
            if args:
                fix = f"use numbers and the block's parameters ({', '.join(sorted(args))})"
            else:
                fix = "use numbers (names are allowed only for a block's parameters)"
            self.problem(line, f"{field}: {error}: {fix}")
            return None
        except expr.ExpressionError as error:
            self.problem(line, f"{field}: {error}")
            return None
        if excel_numbers.too_large(number):
            self.problem(line, f"{field}: {_short_repr(value)} is beyond Excel's largest number "
                               "(about 1E+308): use a smaller number")
            return None
        self._check_precision(value, line, field, number)
        if key is not None:
            self._constants[key] = number
        return number

    def _check_precision(self, value, line, field: str, number: Fraction | None = None) -> None:
        """Warn about numbers with more significant digits than Excel keeps.

        A whole value is checked as computed, because 2*12345678901234567 is written as one number.
        Fractions are checked only as written literals, since a quotient such as 1/3 has no exact
        decimal form.
        """
        literals = excel_numbers.long_literals(value)
        if number is not None:
            literals = [literal for literal in literals if not literal.isdigit()]
            if excel_numbers.beyond_precision(number):
                literals.insert(0, str(number))
        for literal in literals:
            self.warnings.append(Problem(location(self.path, line), (
                f"{field}: {literal} has {excel_numbers.significant_digits(literal)} significant digits, "
                f"but Excel keeps {excel_numbers.MAX_DIGITS}, so the workbook holds "
                f"{excel_numbers.rounded(literal)}: round it, or expect the workbook's last digits "
                "to differ from the report's")))

    # Layers and blocks.

    def _expand(self, entries: list[LayerEntry], scope: _Scope, doc_path: tuple,
                default_from: str | None) -> str | None:
        previous = default_from
        for index, entry in enumerate(entries):
            line = self.line(*doc_path, index)
            if len(self.layers) > MAX_LAYERS:
                self.problem(line, f"more than {MAX_LAYERS} layers: split the network")
                return previous
            full_name = scope.prefix + entry.name
            inputs = self._resolve_inputs(entry, scope, previous, line)
            if entry.use is not None:
                output = self._expand_use(entry, scope, doc_path + (index,), inputs, line)
            elif entry.op is None:
                self.problem(line, f"layer {entry.name!r}: missing 'op' (or 'use' for a block): add one")
                output = None
            else:
                output = self._add_layer(entry, scope, inputs, line, full_name)
            if output is not None:
                if entry.name in scope.names and scope.names[entry.name] != output:
                    self.problem(line, f"duplicate layer name {entry.name!r}: rename one of them")
                scope.names[entry.name] = output
                previous = output
        return previous

    def _resolve_inputs(self, entry: LayerEntry, scope: _Scope, previous: str | None,
                        line: int | None) -> tuple[str, ...] | None:
        if entry.op in ("input", "feedback"):
            if entry.from_ is not None:
                self.problem(line, f"layer {entry.name!r}: an {entry.op} layer takes no 'from': remove it")
            return ()
        requested = entry.from_
        if requested is None:
            if previous is None:
                self.problem(line, f"layer {entry.name!r}: no previous layer to read from: "
                                   "start the network with an 'input' layer or set 'from'")
                return None
            return (previous,)
        names = [requested] if isinstance(requested, str) else list(requested)
        resolved = []
        for name in names:
            target = self._lookup(name, scope)
            if target is None:
                later = any(e.name == name for e in self.spec.layers)
                hint = (" (it is defined later: a layer may only read earlier layers)"
                        if later else suggest(name, list(scope.names) + list(self.global_names)))
                self.problem(line, f"layer {entry.name!r}: 'from' names unknown layer {name!r}{hint}: "
                                   "name an earlier layer")
                return None
            resolved.append(target)
        return tuple(resolved)

    def _lookup(self, name: str, scope: _Scope) -> str | None:
        if name in scope.names:
            return scope.names[name]
        if scope.depth == 0 and name in self.global_names:
            return name
        return None

    def _expand_use(self, entry: LayerEntry, scope: _Scope, doc_path: tuple,
                    inputs: tuple[str, ...] | None, line: int | None) -> str | None:
        definition = self.spec.blocks.get(entry.use)
        if definition is None:
            self.problem(line, f"layer {entry.name!r}: unknown block {entry.use!r}"
                               f"{suggest(entry.use, self.spec.blocks)}: define it under 'blocks'")
            return None
        if scope.depth >= MAX_BLOCK_DEPTH:
            self.problem(line, f"blocks nested deeper than {MAX_BLOCK_DEPTH} levels: "
                               "check for a block that uses itself")
            return None
        if inputs is None:
            return None
        if len(inputs) != len(definition.inputs):
            self.problem(line, f"layer {entry.name!r}: block {entry.use!r} takes {len(definition.inputs)} "
                               f"input(s) ({', '.join(definition.inputs)}), 'from' gives {len(inputs)}")
            return None
        args = self._block_args(entry, definition, scope, line)
        if args is None:
            return None
        repeat = self._repeat(entry, scope, line)
        inner = _Scope(prefix=scope.prefix + entry.name + ".",
                       names=dict(zip(definition.inputs, inputs)), args=args,
                       label=scope.label or (scope.prefix + entry.name) if entry.block is None else entry.block,
                       repeat=repeat, share_weights=scope.share_weights or entry.share_weights,
                       depth=scope.depth + 1)
        block_path = ("blocks", entry.use, "layers")
        last = self._expand(definition.layers, inner, block_path, default_from=inputs[0])
        if definition.output is not None:
            if definition.output not in inner.names:
                self.problem(self.line("blocks", entry.use, "output"),
                             f"block {entry.use!r}: output {definition.output!r} is not one of its layers")
                return None
            return inner.names[definition.output]
        return last

    def _block_args(self, entry, definition, scope: _Scope, line) -> dict[str, Fraction] | None:
        given = dict(entry.with_ or {})
        unknown = set(given) - set(definition.params)
        for name in sorted(unknown):
            self.problem(line, f"layer {entry.name!r}: block {entry.use!r} has no parameter {name!r}"
                               f"{suggest(name, definition.params)}")
        if unknown:
            return None
        args = {}
        for name, default in definition.params.items():
            value = given.get(name, default)
            where = line if name in given else self.line("blocks", entry.use, "params", name)
            number = self._constant(value, scope.args, where, f"{entry.name}.with.{name}")
            if number is None:
                return None
            args[name] = number
        return args

    def _repeat(self, entry: LayerEntry, scope: _Scope, line) -> expr.Expr | None:
        outer = scope.repeat
        if entry.repeat is None:
            return outer
        try:
            tree = expr.substitute(expr.parse(entry.repeat), scope.args)
        except expr.ExpressionError as error:
            self.problem(line, f"layer {entry.name!r}: repeat: {error}")
            return outer
        self._check_precision(entry.repeat, line, f"layer {entry.name!r}: repeat")
        unknown = tree.names() - self.input_names
        if unknown:
            name = sorted(unknown)[0]
            self.problem(line, f"layer {entry.name!r}: repeat uses unknown name {name!r}"
                               f"{suggest(name, self.input_names)}: declare it under 'inputs'")
            return outer
        return tree if outer is None else outer * tree

    def _add_layer(self, entry: LayerEntry, scope: _Scope, inputs, line, full_name: str) -> str | None:
        op_name = entry.op
        allowed = OP_FIELDS[op_name] | _COMMON_FIELDS
        given = self._given.get(id(entry))
        if given is None:
            # Entries are frozen and live as long as the spec, so their ids stay theirs.
            given = self._given[id(entry)] = {name for name, value in entry
                                              if value is not None and name != "share_weights"}
        for field_name in sorted(given - allowed):
            field = _FIELD_ALIASES.get(field_name, field_name)
            self.problem(line, f"layer {entry.name!r}: field {field!r} does not apply to op {op_name!r}: "
                               f"remove it (it accepts {', '.join(sorted(OP_FIELDS[op_name])) or 'no fields'})")
        for field_name in REQUIRED_FIELDS.get(op_name, ()):
            if getattr(entry, field_name) is None:
                self.problem(line, f"layer {entry.name!r}: op {op_name!r} needs {field_name!r}: add it")
        if full_name in self.global_names:
            first = self.global_names[full_name].line
            self.problem(line, f"duplicate layer name {full_name!r} (first at line {first}): rename one of them")
            return None
        if inputs is None or given - allowed or any(getattr(entry, f) is None
                                                   for f in REQUIRED_FIELDS.get(op_name, ())):
            return None
        layer = _LayerReader(self, entry, scope, line).layer(full_name, inputs)
        if layer is None:
            return None
        self.layers.append(layer)
        self.global_names[full_name] = layer
        return full_name


# One Fraction per default, shared by every layer that keeps it (memory of very deep networks).
_HYPERPARAMETER_DEFAULTS = {name: Fraction(default) for name, default in HYPERPARAMETERS.items()}

_RULE_NAMES = {"C_in", "H_in", "W_in", "C_out", "H_out", "W_out", "n_inputs", "H_ref", "W_ref",
               *HYPERPARAMETERS}


class _LayerReader:
    """Resolves one layer entry's fields to hyperparameter values."""

    def __init__(self, builder: _Builder, entry: LayerEntry, scope: _Scope, line):
        self.builder = builder
        self.entry = entry
        self.scope = scope
        self.line = line
        self.ok = True

    def fail(self, message: str) -> None:
        self.builder.problem(self.line, f"layer {self.entry.name!r}: {message}")
        self.ok = False

    def number(self, value, field: str) -> Fraction | None:
        result = self.builder._constant(value, self.scope.args, self.line, f"layer {self.entry.name!r}: {field}")
        if result is None:
            self.ok = False
        return result

    def positive_int(self, value, field: str) -> Fraction | None:
        number = self.number(value, field)
        if number is not None and (number <= 0 or number.denominator != 1):
            self.fail(f"{field} must be a positive whole number (found {_show(number)})")
            return None
        return number

    def pair(self, value, field: str, check) -> tuple[Fraction, Fraction] | None:
        if isinstance(value, list):
            if len(value) != 2:
                self.fail(f"{field} must be one value or [height, width] (found {len(value)} values)")
                return None
            first, second = check(value[0], field), check(value[1], field)
            return (first, second) if first is not None and second is not None else None
        single = check(value, field)
        return (single, single) if single is not None else None

    def non_negative(self, value, field: str) -> Fraction | None:
        number = self.number(value, field)
        if number is not None and number < 0:
            self.fail(f"{field} must not be negative (found {_show(number)})")
            return None
        return number

    def layer(self, full_name: str, inputs: tuple[str, ...]) -> Layer | None:
        entry = self.entry
        op_name = entry.op
        hyper: dict[str, Fraction] = {}
        out_channels = None
        size_of = None
        label = op_name

        if op_name in ("input", "feedback"):
            out_channels = self.positive_int(entry.channels, "channels")
        if op_name == "feedback":
            scale = self.pair(entry.scale, "scale", self.number)
            if scale is not None and min(scale) <= 0:
                self.fail(f"scale must be positive (found {_show(min(scale))})")
            elif scale is not None:
                hyper["scale_h"], hyper["scale_w"] = scale
        if op_name in ("conv2d", "conv_transpose2d"):
            out_channels = self.positive_int(entry.out_channels, "out_channels")
        if op_name == "linear":
            out_channels = self.positive_int(entry.out_features, "out_features")
            hyper["flatten"] = Fraction(int(bool(entry.flatten)))
        if op_name in ("conv2d", "conv_transpose2d", "linear"):
            hyper["bias"] = Fraction(int(entry.bias is not False))
        if op_name in ("conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d"):
            self._window(hyper, pooling=op_name.endswith("pool2d"))
        if op_name == "conv_transpose2d" and entry.output_padding is not None:
            pads = self.pair(entry.output_padding, "output_padding", self.non_negative)
            if pads:
                hyper["out_pad_h"], hyper["out_pad_w"] = pads
        if op_name in ("conv2d", "conv_transpose2d"):
            groups = self.positive_int(entry.groups if entry.groups is not None else 1, "groups")
            if groups is not None:
                hyper["groups"] = groups
        if op_name in ("max_pool2d", "avg_pool2d"):
            hyper["ceil_mode"] = Fraction(int(bool(entry.ceil_mode)))
        if op_name == "adaptive_avg_pool":
            size = self.pair(entry.output_size, "output_size", self.positive_int)
            if size is not None:
                hyper["out_h"], hyper["out_w"] = size
        if op_name == "upsample":
            label, size_of = self._upsample(hyper)
        if op_name in ("add", "multiply", "concat") and len(inputs) < 2:
            self.fail(f"op {op_name!r} needs at least two inputs: set 'from' to a list of layers")
        elif op_name not in ("add", "multiply", "concat", "input", "feedback") and len(inputs) != 1:
            self.fail(f"op {op_name!r} takes one input, 'from' gives {len(inputs)}")
        if op_name == "activation" and entry.function:
            label = f"activation ({entry.function})"
        if not self.ok:
            return None

        op = REGISTRY[label] if label in REGISTRY else REGISTRY[op_name]
        values = {name: hyper.get(name, default) for name, default in
                  ((n, d) for n, d in _HYPERPARAMETER_DEFAULTS.items() if n in op.hyperparameters)}
        return Layer(name=full_name, op=op, inputs=inputs, hyper=values, out_channels=out_channels,
                     size_of=size_of, feedback_of=self._feedback_of(), block=self.scope.label if entry.block is None else entry.block,
                     repeat=self.scope.repeat if entry.repeat is None else self._repeat(),
                     share_weights=self.scope.share_weights or entry.share_weights,
                     line=self.line, label=label)

    def _feedback_of(self) -> str | None:
        """Return the full name of the later layer a feedback source stands for (checked once all are read)."""
        if self.entry.of is None:
            return None
        return self.scope.prefix + self.entry.of if self.scope.depth else self.entry.of

    def _repeat(self):
        return self.builder._repeat(self.entry, self.scope, self.line)

    def _window(self, hyper: dict, pooling: bool) -> None:
        entry = self.entry
        kernel = self.pair(entry.kernel, "kernel", self.positive_int)
        if kernel is None:
            return
        hyper["k_h"], hyper["k_w"] = kernel
        stride_value = entry.stride
        if stride_value is None:
            # Pooling strides by its kernel by default, as PyTorch and Caffe do.
            stride_value = entry.kernel if pooling else 1
        stride = self.pair(stride_value, "stride", self.positive_int)
        dilation = self.pair(entry.dilation if entry.dilation is not None else 1, "dilation",
                             self.positive_int)
        if stride is None or dilation is None:
            return
        hyper["stride_h"], hyper["stride_w"] = stride
        hyper["dilation_h"], hyper["dilation_w"] = dilation
        padding = entry.padding if entry.padding is not None else 0
        if padding == "valid":
            padding = 0
        if padding == "same":
            # Total padding d·(k - 1) keeps the size at stride 1 and gives ceil(H/s) otherwise.
            # An even effective kernel splits it unevenly, so each side gets half of it.
            pads = tuple(d * (k - 1) / 2 for k, d in zip(kernel, dilation))
        else:
            pads = self.pair(padding, "padding", self.non_negative)
        if pads is not None:
            hyper["pad_h"], hyper["pad_w"] = pads

    def _upsample(self, hyper: dict) -> tuple[str, str | None]:
        entry = self.entry
        mode = entry.mode or "bilinear"
        if (entry.scale is None) == (entry.size_of is None):
            self.fail("upsample needs exactly one of 'scale' and 'size_of'")
            return f"upsample_{mode}", None
        if entry.size_of is not None:
            target = self.builder._lookup(entry.size_of, self.scope)
            if target is None:
                self.fail(f"size_of names unknown layer {entry.size_of!r}"
                          f"{suggest(entry.size_of, self.scope.names)}: name an earlier layer")
            return f"upsample_{mode}_to", target
        scale = self.pair(entry.scale, "scale", self.number)
        if scale is not None:
            if min(scale) <= 0:
                self.fail(f"scale must be positive (found {_show(min(scale))})")
            else:
                hyper["scale_h"], hyper["scale_w"] = scale
        return f"upsample_{mode}", None


def _show(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(float(value))
