"""The spec format: pydantic models that validate a parsed YAML spec and generate its JSON Schema.

A quantity is a number or an arithmetic expression (a string). Hyperparameters
may use the parameters of the block they sit in; ``repeat`` and input defaults
may also use the inputs.
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

Quantity = Union[StrictInt, StrictFloat, str]
Pair = Union[Quantity, list[Quantity]]

OP_NAMES = ("input", "feedback", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d",
            "adaptive_avg_pool", "global_avg_pool", "batch_norm", "linear", "upsample", "add", "multiply",
            "concat", "activation")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ModelInfo(_Strict):
    """The network's name (used for file and sheet names), title, citation and description."""

    name: str = Field(min_length=1, description="Short name: file names and the sheet name")
    title: str = Field("", description="Full title shown in reports")
    source: str = Field("", description="Citation of the paper or code that defines the network")
    description: str = Field("", description="What the network is and how the spec follows it")


class InputDef(_Strict):
    """An input size or declared parameter: a workbook cell with a default and a description."""

    default: Quantity = Field(description="Default value: a positive number or an expression of numbers")
    description: str = ""


class LayerEntry(_Strict):
    """One layer, or one use of a block definition (``use``)."""

    name: str = Field(min_length=1, description="Unique layer name")
    op: Optional[Literal[OP_NAMES]] = Field(None, description="The layer's op")
    use: Optional[str] = Field(None, description="Name of a block definition to instantiate")
    with_: Optional[dict[str, Quantity]] = Field(
        None, alias="with", description="Arguments of the block definition")
    from_: Optional[Union[str, list[str]]] = Field(
        None, alias="from", description="Producer layer(s); the previous layer by default")
    block: Optional[str] = Field(None, description="Block label: consecutive layers with one label get a subtotal")
    repeat: Optional[Quantity] = Field(
        None, description="Count the cost (and parameters) this many times: an expression of the inputs")
    share_weights: StrictBool = Field(
        False, description="With repeat: count the parameters once, as the passes share their weights")

    channels: Optional[Quantity] = Field(None, description="input, feedback: number of channels")
    of: Optional[str] = Field(None, description="feedback: the later layer whose previous output this is")
    out_channels: Optional[Quantity] = Field(None, description="conv2d, conv_transpose2d: output channels")
    out_features: Optional[Quantity] = Field(None, description="linear: output features")
    kernel: Optional[Pair] = Field(None, description="Kernel size, or [height, width]")
    stride: Optional[Pair] = Field(None, description="Stride, or [height, width]; pooling defaults to the kernel")
    padding: Optional[Union[Literal["same", "valid"], Pair]] = Field(
        None, description="Padding on each side, [height, width], 'same' or 'valid'")
    dilation: Optional[Pair] = None
    groups: Optional[Quantity] = Field(None, description="Groups; equal to the channels for a depthwise conv")
    output_padding: Optional[Pair] = Field(None, description="conv_transpose2d: extra output rows and columns")
    bias: Optional[StrictBool] = Field(None, description="conv2d, conv_transpose2d, linear: has a bias (default true)")
    ceil_mode: Optional[StrictBool] = Field(None, description="Pooling: round the output size up")
    flatten: Optional[StrictBool] = Field(
        None, description="linear: read the whole C x H x W map as one vector")
    mode: Optional[Literal["bilinear", "nearest"]] = Field(None, description="upsample: interpolation")
    scale: Optional[Pair] = Field(
        None, description="upsample: factor, or [height, width]; feedback: size relative to h and w")
    size_of: Optional[str] = Field(None, description="upsample: take the output size of this layer")
    output_size: Optional[Pair] = Field(
        None, description="adaptive_avg_pool: output size, or [height, width]")
    function: Optional[str] = Field(None, description="activation: relu, sigmoid, softmax, ...")


class BlockDef(_Strict):
    """A reusable group of layers with parameters."""

    params: dict[str, Quantity] = Field(default_factory=dict, description="Parameters and their defaults")
    inputs: list[str] = Field(default_factory=lambda: ["x"],
                              description="Names the block's layers use for the block's inputs")
    output: Optional[str] = Field(None, description="The layer whose output is the block's (default: the last)")
    layers: list[LayerEntry] = Field(min_length=1)


class Claim(_Strict):
    """A figure a source states for the network, to be reconciled with what the spec computes."""

    name: str = Field(min_length=1, description="The figure's label, as the source writes it")
    kind: Literal["macs", "params"]
    value: Quantity = Field(description="The stated figure, copied exactly: an expression in the inputs")
    layers: Optional[list[str]] = Field(
        None, description="Layers (or block uses) whose sum is claimed; omit with block for the total")
    block: Optional[str] = Field(None, description="Block label whose layers' sum is claimed")
    per_pass: StrictBool = Field(
        False, description="Count repeated layers once, as the figure covers one pass")
    at: Optional[dict[str, Quantity]] = Field(
        None, description="Inputs at which the source evaluated the figure (such as {h: 354, w: 354})")
    terms: Optional[str] = Field(
        None, description="The source's own arithmetic behind the figure, as an expression in the inputs")
    note: str = Field("", description="Where the figure appears, or what the source did")


class Spec(_Strict):
    """A network spec."""

    model: ModelInfo
    shape_mode: Literal["ideal", "exact"] = Field(
        "ideal", description="ideal: sizes divide evenly (closed forms linear in h and w); exact: floor arithmetic")
    inputs: dict[str, InputDef] = Field(default_factory=dict,
                                        description="h, w, b and declared parameters")
    conventions: dict[str, Quantity] = Field(
        default_factory=dict,
        description="Counting conventions that differ from the defaults; 'preset' names a tool's "
                    "set (notes, fvcore, ptflops, thop, torchinfo, torch) that the other keys override")
    blocks: dict[str, BlockDef] = Field(default_factory=dict)
    layers: list[LayerEntry] = Field(min_length=1)
    claims: list[Claim] = Field(default_factory=list,
                                description="Figures a source states, reconciled against the computed ones")


def json_schema() -> dict:
    """Return the JSON Schema of the spec format."""
    schema = Spec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "flopsheet spec"
    return schema
