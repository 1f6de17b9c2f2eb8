#!/usr/bin/env python3
"""EventBridge event patterns, matched the way EventBridge documents it.

    matches(pattern, event, array_consistent=True) -> bool
    validate(pattern)                              -> None, or PatternError

moto's matcher does not handle arrays of objects in the event, so the template's rules
are tested with this one (scripts/lib/event_pattern_checks.py). Sources, in the order
they were read: the EventBridge user guide's pages on event patterns (eb-event-patterns,
eb-create-pattern, eb-event-patterns-arrays, eb-create-pattern-operators,
eb-event-patterns-null-values) and the README of aws/event-ruler, the matching library
EventBridge is built on (and Lambda event filtering too). What it implements:

- Fields: every field named in the pattern must match (AND); the values listed for a
  field are alternatives (OR); the event's other fields are ignored. Nested objects in
  the pattern follow nested objects in the event. Keys are joined with dots, so
  {"a": {"b": [1]}} and {"a.b": [1]} are the same pattern and match either event shape
  (the user guide's "Considerations").
- Leaves: a pattern's leaf is a non-empty array; anything else is a PatternError (what
  PutRule refuses). Only leaf values of the event match: a field whose value is an
  object has no value of its own, and a JSON string is not parsed.
- Arrays in the event: an array is the set of its elements (the user guide: "the event
  pattern matches if the intersection of the event pattern array and the event array is
  non-empty"); an empty array has no value. An array of objects is crushed out: a
  pattern field under it matches if any element's field does (event-ruler's README,
  "JSON Array Matching"). Whether two fields of one pattern may take their values from
  two different elements of the same array is the one point the sources disagree on:
  event-ruler's current JSON matching (rulesForJSONEvent, Ruler.matchesRule) refuses it
  ("array-consistent"), its older flattened matching accepted it, and the EventBridge
  user guide says nothing. array_consistent=True (the default) is the former,
  array_consistent=False the latter; a test that must hold whichever EventBridge does
  asserts a match with True and a non-match with False.
- Values: exact match by JSON type ("5" is not 5, true is not 1, [null] matches null
  only, [""] matches the empty string); numbers compare by their JSON text in
  EventBridge (300, 300.0 and 3.0e2 differ), here by Python value and type (300 and
  300.0 differ; 300.0 and 3.0e2, the same float, do not).
- Operators (an object in the leaf array, one key): prefix and suffix (a string, or
  {"equals-ignore-case": s}), equals-ignore-case, wildcard (`*` any run of characters,
  `\\*` a literal star, `\\\\` a backslash, `**` refused), anything-but (a string, a
  number, a list of strings or of numbers, or {"prefix" | "suffix" |
  "equals-ignore-case" | "wildcard": s or [s, ...]}), numeric ([op, n] or [lower-op, n,
  upper-op, m] with = < <= > >=), exists (true: the field has a leaf value, null
  included; false: it has none), cidr (IPv4 or IPv6, on string values). The string
  operators match strings only; numeric matches numbers only; anything-but matches any
  value present that is not excluded (null and other types included) and never a
  missing field.
- exists: false is true when the field has no leaf value anywhere in the event (it does
  not look for an array element without the field).
- $or: {"$or": [{...}, {...}, ...]} (two alternatives or more, at any level) matches if
  any alternative does, together with the fields beside it.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

STRING_OPERATORS = ("prefix", "suffix", "equals-ignore-case", "wildcard")
OPERATORS = (*STRING_OPERATORS, "anything-but", "numeric", "exists", "cidr")
NUMERIC_LIMIT = 5.0e9  # event-ruler: numeric matching between -5.0e9 and +5.0e9
LOWER = (">", ">=")
UPPER = ("<", "<=")


class PatternError(ValueError):
    """A pattern EventBridge would refuse (PutRule's InvalidEventPatternException)."""


def matches(pattern: Any, event: Any, array_consistent: bool = True) -> bool:
    """Whether the pattern (a dict, or its JSON text) matches the event (a dict)."""
    if not isinstance(event, dict):
        raise ValueError("an event is a JSON object")
    leaves = _flatten(event)
    return any(_conjunction_matches(fields, leaves, array_consistent) for fields in _compile(pattern))


def validate(pattern: Any) -> None:
    """Raises PatternError when EventBridge would refuse the pattern."""
    _compile(pattern)


# ------------------------------------------------------------------------------ event


@dataclass(frozen=True)
class _Leaf:
    value: Any
    # (array, index) for every array the value sits in: array ids are unique per event.
    arrays: tuple[tuple[int, int], ...]


def _flatten(event: dict[str, Any]) -> dict[str, list[_Leaf]]:
    leaves: dict[str, list[_Leaf]] = {}
    array_ids = itertools.count()

    def walk(node: Any, path: str, arrays: tuple[tuple[int, int], ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else key, arrays)
        elif isinstance(node, list):
            array = next(array_ids)
            for index, item in enumerate(node):
                walk(item, path, (*arrays, (array, index)))
        else:
            leaves.setdefault(path, []).append(_Leaf(node, arrays))

    walk(event, "", ())
    return leaves


def _consistent(a: _Leaf, b: _Leaf) -> bool:
    """Not in two different elements of one array."""
    positions = dict(a.arrays)
    return all(positions.get(array, index) == index for array, index in b.arrays)


# ---------------------------------------------------------------------------- pattern


@dataclass(frozen=True)
class _Matcher:
    description: str
    test: Callable[[Any], bool]
    # exists: false matches on the field's absence, not on a value.
    on_absence: bool = False


@dataclass(frozen=True)
class _Field:
    path: str
    matchers: tuple[_Matcher, ...]


def _compile(pattern: Any) -> list[list[_Field]]:
    """The pattern as alternatives ($or expanded), each a list of fields that must all match."""
    if isinstance(pattern, (str, bytes)):
        try:
            pattern = json.loads(pattern)
        except json.JSONDecodeError as error:
            raise PatternError(f"not JSON: {error}") from None
    if not isinstance(pattern, dict):
        raise PatternError("a pattern is a JSON object")
    return _conjunctions(pattern, "")


def _conjunctions(pattern: dict[str, Any], prefix: str) -> list[list[_Field]]:
    result: list[list[_Field]] = [[]]
    for key, value in pattern.items():
        if key == "$or" and isinstance(value, list):
            if len(value) < 2 or not all(isinstance(v, dict) for v in value):
                raise PatternError(f"{prefix or '(top)'}: $or takes two objects or more")
            alternatives = [c for alternative in value for c in _conjunctions(alternative, prefix)]
            result = [r + a for r in result for a in alternatives]
            continue
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            nested = _conjunctions(value, path)
            result = [r + n for r in result for n in nested]
        elif isinstance(value, list):
            if not value:
                raise PatternError(f"{path}: empty array")
            field = _Field(path, tuple(_matcher(path, spec) for spec in value))
            result = [r + [field] for r in result]
        else:
            raise PatternError(f'"{key}" must be an object or an array')
    return result


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(event_value: Any, pattern_value: Any) -> bool:
    """Exact match, by JSON type."""
    if pattern_value is None or event_value is None:
        return pattern_value is None and event_value is None
    if isinstance(pattern_value, bool) or isinstance(event_value, bool):
        return isinstance(pattern_value, bool) and isinstance(event_value, bool) and pattern_value == event_value
    if _is_number(pattern_value):
        return type(event_value) is type(pattern_value) and event_value == pattern_value
    return isinstance(event_value, str) and event_value == pattern_value


def _fold(text: str) -> str:
    return text.casefold()


def _string_test(path: str, name: str, arg: Any) -> Callable[[str], bool]:
    """The test of a string operator on a string value (prefix, suffix,
    equals-ignore-case, wildcard), with prefix/suffix taking {"equals-ignore-case": s}."""
    if name in ("prefix", "suffix") and isinstance(arg, dict):
        if set(arg) != {"equals-ignore-case"} or not isinstance(arg["equals-ignore-case"], str):
            raise PatternError(f'{path}: {name} takes a string or {{"equals-ignore-case": string}}')
        folded = _fold(arg["equals-ignore-case"])
        if name == "prefix":
            return lambda s: _fold(s).startswith(folded)
        return lambda s: _fold(s).endswith(folded)
    if not isinstance(arg, str):
        raise PatternError(f"{path}: {name} takes a string")
    if name == "prefix":
        return lambda s: s.startswith(arg)
    if name == "suffix":
        return lambda s: s.endswith(arg)
    if name == "equals-ignore-case":
        folded = _fold(arg)
        return lambda s: _fold(s) == folded
    regex = _wildcard(path, arg)
    return lambda s: regex.fullmatch(s) is not None


def _wildcard(path: str, text: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    previous_star = False
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text) or text[i + 1] not in "*\\":
                raise PatternError(f"{path}: wildcard escapes only * and \\")
            parts.append(re.escape(text[i + 1]))
            i += 2
            previous_star = False
            continue
        if ch == "*":
            if previous_star:
                raise PatternError(f"{path}: consecutive wildcard characters")
            parts.append(".*")
            previous_star = True
        else:
            parts.append(re.escape(ch))
            previous_star = False
        i += 1
    return re.compile("".join(parts), re.S)


def _numeric_test(path: str, arg: Any) -> Callable[[Any], bool]:
    if not isinstance(arg, list) or len(arg) not in (2, 4):
        raise PatternError(f"{path}: numeric takes [op, n] or [op, n, op, m]")
    bounds = list(zip(arg[::2], arg[1::2]))
    for op, number in bounds:
        if op not in ("=", *LOWER, *UPPER):
            raise PatternError(f"{path}: unknown numeric operator {op!r}")
        if not _is_number(number) or not math.isfinite(number) or abs(number) > NUMERIC_LIMIT:
            raise PatternError(f"{path}: numeric bound {number!r} is not a number within ±5e9")
    if len(bounds) == 2:
        lower = [n for op, n in bounds if op in LOWER]
        upper = [n for op, n in bounds if op in UPPER]
        if len(lower) != 1 or len(upper) != 1:
            raise PatternError(f"{path}: a numeric range has one lower bound (> >=) and one upper (< <=)")
        if lower[0] > upper[0]:
            raise PatternError(f"{path}: numeric range's bottom is above its top")

    def compare(value: float, op: str, number: float) -> bool:
        return {"=": value == number, ">": value > number, ">=": value >= number,
                "<": value < number, "<=": value <= number}[op]

    return lambda v: _is_number(v) and all(compare(v, op, n) for op, n in bounds)


def _anything_but_test(path: str, arg: Any) -> Callable[[Any], bool]:
    if isinstance(arg, dict):
        if len(arg) != 1 or next(iter(arg)) not in STRING_OPERATORS:
            raise PatternError(f"{path}: anything-but takes prefix, suffix, equals-ignore-case or wildcard")
        ((name, inner),) = arg.items()
        values = inner if isinstance(inner, list) else [inner]
        if not values or not all(isinstance(v, str) for v in values):
            raise PatternError(f"{path}: anything-but {name} takes a string or a list of strings")
        if name in ("prefix", "suffix") and any(v == "" for v in values):
            raise PatternError(f"{path}: anything-but {name} takes a non-empty string")
        tests = [_string_test(path, name, v) for v in values]
        # A value that is not a string cannot start, end with or equal a string.
        return lambda v: not (isinstance(v, str) and any(t(v) for t in tests))
    values = arg if isinstance(arg, list) else [arg]
    if not values:
        raise PatternError(f"{path}: anything-but takes a value or a non-empty list")
    if all(isinstance(v, str) for v in values):
        return lambda v: not (isinstance(v, str) and v in values)
    if all(_is_number(v) for v in values):
        # Numbers compare as numbers here (event-ruler matches them numerically).
        return lambda v: not (_is_number(v) and any(v == n for n in values))
    raise PatternError(f"{path}: anything-but takes strings only or numbers only")


def _cidr_test(path: str, arg: Any) -> Callable[[Any], bool]:
    if not isinstance(arg, str):
        raise PatternError(f"{path}: cidr takes a string")
    try:
        network = ipaddress.ip_network(arg, strict=False)
    except ValueError as error:
        raise PatternError(f"{path}: cidr {arg!r}: {error}") from None

    def test(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            return ipaddress.ip_address(value) in network
        except ValueError:
            return False

    return test


def _matcher(path: str, spec: Any) -> _Matcher:
    if not isinstance(spec, (dict, list)):
        return _Matcher(json.dumps(spec), lambda v: _same(v, spec))
    if isinstance(spec, list):
        raise PatternError(f"{path}: a value in a pattern array cannot be an array")
    if len(spec) != 1:
        raise PatternError(f"{path}: an operator object has exactly one key, not {sorted(spec)}")
    ((name, arg),) = spec.items()
    description = json.dumps(spec)
    if name in STRING_OPERATORS:
        test = _string_test(path, name, arg)
        return _Matcher(description, lambda v: isinstance(v, str) and test(v))
    if name == "anything-but":
        return _Matcher(description, _anything_but_test(path, arg))
    if name == "numeric":
        return _Matcher(description, _numeric_test(path, arg))
    if name == "cidr":
        return _Matcher(description, _cidr_test(path, arg))
    if name == "exists":
        if not isinstance(arg, bool):
            raise PatternError(f"{path}: exists takes true or false")
        if arg:
            return _Matcher(description, lambda v: True)
        return _Matcher(description, lambda v: False, on_absence=True)
    raise PatternError(f"{path}: unknown operator {name!r} (known: {', '.join(OPERATORS)})")


# --------------------------------------------------------------------------- matching


def _conjunction_matches(fields: list[_Field], leaves: dict[str, list[_Leaf]], array_consistent: bool) -> bool:
    # For each field: the leaves that satisfy it, or [None] when its absence does.
    options: list[list[_Leaf | None]] = []
    for field in fields:
        present = leaves.get(field.path, [])
        candidates: list[_Leaf | None] = [
            leaf for leaf in present if any(m.test(leaf.value) for m in field.matchers)
        ]
        if not present and any(m.on_absence for m in field.matchers):
            candidates.append(None)
        if not candidates:
            return False
        options.append(candidates)
    if not array_consistent:
        return True
    return _choose(sorted(options, key=len), [])


def _choose(options: list[list[_Leaf | None]], chosen: list[_Leaf]) -> bool:
    """One candidate per field, no two from different elements of one array."""
    if not options:
        return True
    first, rest = options[0], options[1:]
    for candidate in first:
        if candidate is None:
            if _choose(rest, chosen):
                return True
        elif all(_consistent(candidate, other) for other in chosen) and _choose(rest, [*chosen, candidate]):
            return True
    return False


def describe(pattern: Any) -> Iterable[str]:
    """The pattern's alternatives, one line each (for failure messages)."""
    for fields in _compile(pattern):
        yield " AND ".join(f"{f.path} in [{', '.join(m.description for m in f.matchers)}]" for f in fields)
