"""Where a problem of a rule pack is: the line of pack.yaml, found by its location in the document.

A problem names where it is as a path into the pack (`urgency.rules[U3].when`);
`refusal` gives each problem the line of pack.yaml where that is, looking the
path up in the YAML nodes of the pack file as it was read once (`NodeLines`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from triage.core.errors import PackProblem, RulePackError
from triage.packs.guards import FAST_LOADER


def refusal(pack_file: Path, pack_bytes: bytes, problems: Sequence[PackProblem]) -> RulePackError:
    """The error refusing a pack for `problems`, each given the line of pack.yaml where it is.

    The lines are found in `pack_bytes`, the pack file as it was read once and
    checked against the limits (`read_limited`, `refuse_non_data`) and parsed:
    locating a problem never reads the file again, which could by then be
    anything (larger, deeper, a pipe).
    """
    if any(problem.line is None for problem in problems):
        try:
            root = yaml.compose(pack_bytes, Loader=FAST_LOADER)
        except yaml.YAMLError:
            root = None
        if root is not None:
            lines = NodeLines(root)
            for problem in problems:
                if problem.line is None:
                    problem.line = lines.line_of(problem.where)
    return RulePackError(str(pack_file), problems)


_STEP = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")


def line_of(root: yaml.Node, where: str) -> int | None:
    """The line of the deepest YAML node that a location like `urgency.rules[U3].when` reaches."""
    return NodeLines(root).line_of(where)


class NodeLines:
    """The lines of a composed YAML document's nodes, found by location (`urgency.rules[U3].when`).

    Each step is a dictionary look-up (the keys of a mapping, and the items of a
    list by index, `id` or `name`, indexed the first time they are needed), so
    that the many problems of a large pack are located in linear time.
    """

    def __init__(self, root: yaml.Node) -> None:
        self.root = root
        self._keys: dict[int, dict[str, yaml.Node]] = {}
        self._names: dict[int, dict[str, yaml.Node]] = {}

    def line_of(self, where: str) -> int | None:
        node: yaml.Node | None = self.root
        line: int | None = None
        for match in _STEP.finditer(where):
            item, key = match.group(1), match.group(2)
            node = self._child(node, key) if key is not None else self._item(node, item)
            if node is None:
                break
            line = node.start_mark.line + 1
        return line

    def _child(self, node: yaml.Node | None, key: str) -> yaml.Node | None:
        if not isinstance(node, yaml.MappingNode):
            return None
        keys = self._keys.get(id(node))
        if keys is None:
            keys = self._keys[id(node)] = {}
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    keys.setdefault(k.value, v)
        return keys.get(key)

    def _item(self, node: yaml.Node | None, name: str) -> yaml.Node | None:
        if not isinstance(node, yaml.SequenceNode):
            return None
        if name.isdigit() and int(name) < len(node.value):
            return node.value[int(name)]  # type: ignore[no-any-return]
        names = self._names.get(id(node))
        if names is None:
            names = self._names[id(node)] = {}
            for item in node.value:
                for field in ("id", "name"):
                    value = self._child(item, field)
                    if isinstance(value, yaml.ScalarNode):
                        names.setdefault(value.value, item)
        return names.get(name)
