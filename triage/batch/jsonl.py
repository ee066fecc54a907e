"""The JSON Lines fast path of a batch: whole blocks of plain records, through C-level maps.

Most JSON Lines files are objects with a plain text id (or none), and the same
few answers again and again. A block of such lines is taken whole: each line is
parsed, its id taken out, the rest dumped as the key of its raw record, looked
up, and the entries joined from a few shared bytes (`parsed_block`). Better
still, a line that begins with a plain text id and whose rest was seen before
is not parsed at all (`known_block` says why that is exact).

A block of any other shape (a blank or malformed line, a BOM, a record that is
not an object, an id that is not text) is not taken (None): the batch reads it
line by line (`triage.batch.stream.Batch`), which is the reference; both give
the very same bytes, and the tests hold them to that.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Iterable, Iterator
from itertools import chain, repeat

import orjson

from triage.core.outcomes import MEMO_RECORD_BYTES, Outcome
from triage.io.readers import plain
from triage.io.writers import json_string

_POP_ID = operator.methodcaller("pop", "id", None)
_PLAIN_IDS = frozenset({str, type(None)})
_DATA = operator.attrgetter("data")
_ID_PREFIXES = (b'{"id":"', b'{"id": "')
_FIRST = operator.itemgetter(0)
_LAST = operator.itemgetter(2)
_PLAIN = bytes(range(0x20, 0x7F)).replace(b"\\", b"")
"""The bytes a plain id may hold: printable ASCII but the backslash (the quote is counted apart)."""


class Seen:
    """A distinct raw record: its outcome and its prepared bytes."""

    __slots__ = ("data", "outcome")

    def __init__(self, outcome: Outcome, data: bytes) -> None:
        self.outcome = outcome
        self.data = data


Block = tuple[list[Seen], Iterable[bytes]]
"""A block of lines taken: the record of each line, and the parts of their entries, to be joined."""


class JsonLines:
    """The fast path of one batch. It shares the batch's raw records (`memo`, by key) and learns a new
    one through the batch (`seen`); it remembers on its own the rest of each line seen after a
    plain id (`known`, about `held` bytes of them), until the batch forgets (`forget`)."""

    def __init__(
        self, sep: bytes, memo: dict[Hashable, Seen], seen: Callable[[Hashable, object], Seen]
    ) -> None:
        self.sep = sep
        self.memo = memo
        self.seen = seen
        self.known: dict[bytes, Seen] = {}
        self.held = 0

    def __len__(self) -> int:
        return len(self.known)

    def forget(self) -> None:
        """Forget the lines seen (the batch starts its memory afresh)."""
        self.known.clear()
        self.held = 0

    def known_block(self, chunk: list[bytes], name: str, first: int) -> Block | None:
        """A block of lines that all begin with a plain text id, taken mostly unparsed (see `_known`);
        None if it is of another shape."""
        prefix = chunk[0][:8]
        if not prefix.startswith(_ID_PREFIXES):
            return None
        return self._known(chunk, name, first, prefix.startswith(_ID_PREFIXES[0]))

    def parsed_block(self, chunk: list[bytes], name: str, first: int) -> Block | None:
        """A block of lines that are all plain records (objects with a text id or none), parsed at
        once; None if any is not."""
        loads, dumps = orjson.loads, orjson.dumps
        try:
            records = list(map(loads, chunk))
        except orjson.JSONDecodeError:
            return None
        if not all(map(plain, chunk, records)):
            return None  # the line-by-line path reads these again exactly (a key given twice, a float)
        try:
            ids = list(map(_POP_ID, records))
        except (AttributeError, TypeError):
            return None
        if not _PLAIN_IDS.issuperset(map(type, ids)):
            return None
        try:
            keys = list(map(dumps, records))
        except orjson.JSONEncodeError:
            return None
        memo = self.memo
        looked_up = list(map(memo.get, keys))
        seen: list[Seen] = looked_up  # type: ignore[assignment] # every None is filled in below
        if not all(looked_up):
            for index, found in enumerate(looked_up):
                if found is None:
                    seen[index] = memo.get(keys[index]) or self.seen(keys[index], records[index])
        # entry = head, id, middle (source up to the line number), line number, outcome's bytes
        head = self.sep + b'{"id":'
        middle = b',"source":' + json_string(f"{name}:")[:-1]
        count = len(chunk)
        parts = zip(
            repeat(head),
            map(dumps, ids),
            repeat(middle),
            _numbers(first, count),
            map(_DATA, seen),
        )
        return seen, chain.from_iterable(parts)

    def _known(self, chunk: list[bytes], name: str, first: int, tight: bool) -> Block | None:
        """Lines that begin with a plain text id: look the rest of the line up, unparsed, once it is known.

        Each line is cut (`bytes.partition`) at the first `","` (`", "` when
        spaced): `{"id":"<id>` before it, the rest after it. When the part before
        holds no quote past the prefix, no backslash, control or non-ASCII byte,
        the id is a complete plain JSON string closed by the cut, and a line whose
        rest was seen before (and parsed then, see `_learn`) is the same record
        under another id: valid JSON exactly when the earlier one was, its id's
        JSON being its text as written. Lines of any other shape go to the
        parsing paths.
        """
        prefix, cut = (_ID_PREFIXES[0], b'","') if tight else (_ID_PREFIXES[1], b'", "')
        if not all(map(bytes.startswith, chunk, repeat(prefix))):
            return None
        cuts = list(map(bytes.partition, chunk, repeat(cut)))
        heads = list(map(_FIRST, cuts))
        joined = b"".join(heads)
        # Each head starts with the prefix (3 quotes); another quote is in an id, or there was no cut.
        # Deleting every plain byte must leave nothing (`translate` is many times quicker than a regex).
        if joined.count(b'"') != 3 * len(chunk) or joined.translate(None, _PLAIN):
            return None
        rests = list(map(_LAST, cuts))
        known = self.known
        looked_up = list(map(known.get, rests))
        seen: list[Seen] = looked_up  # type: ignore[assignment] # every None is filled in below
        if not all(looked_up):
            for index, found in enumerate(looked_up):
                if found is None:
                    learnt = self._learn(chunk[index], heads[index][len(prefix) :], rests[index])
                    if learnt is None:
                        return None
                    seen[index] = learnt
        sep = self.sep
        # An entry: `{"id":"<id>`, then `","source":"<name>:`, the line number, and the outcome's bytes.
        middle = b'","source":' + json_string(f"{name}:")[:-1]
        numbers = _numbers(first, len(chunk))
        if tight and not sep:
            parts: Iterator[tuple[bytes, ...]] = zip(heads, repeat(middle), numbers, map(_DATA, seen))
        else:
            starts = heads if tight else [_ID_PREFIXES[0] + head[len(prefix) :] for head in heads]
            parts = zip(repeat(sep), starts, repeat(middle), numbers, map(_DATA, seen))
        return seen, chain.from_iterable(parts)

    def _learn(self, line: bytes, ident: bytes, rest: bytes) -> Seen | None:
        """Parse a line of `known_block`'s shape with id `ident`, remembering its rest when safe.

        None if the line is not of that shape after all.
        """
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        if type(record) is not dict or not plain(line, record):
            return None
        if record.pop("id", None) != ident.decode():  # a plain id: its JSON text is the text itself
            return None
        try:
            key = orjson.dumps(record)
        except orjson.JSONEncodeError:  # nested deeper than orjson writes: the parsing paths read it
            return None
        seen = self.memo.get(key) or self.seen(key, record)
        # No escape and no "id" in the rest (which follows a quote): no later key of it can be another id.
        if b"\\" not in rest and b'"id"' not in b'"' + rest and len(rest) <= MEMO_RECORD_BYTES:
            self.known[rest] = seen
            self.held += len(rest)
        return seen


def _numbers(first: int, count: int) -> list[bytes]:
    """Line numbers `first`… as bytes: formatting one text and splitting it is quicker than one by one."""
    return " ".join(map(str, range(first, first + count))).encode().split()
