#!/usr/bin/env python3
"""Checks README.md and the book in docs/ (mdBook), run by scripts/docs.

    python3 scripts/lib/docs_check.py [--root DIR] [-v]     the checks below; exit 1 on any finding
    python3 scripts/lib/docs_check.py --self-test [-v]      this script's own tests

The files checked are README.md and every docs/src/**/*.md ("the docs").

1. Links. Every link of the docs that is not a URL (no `scheme:`) names a file or
   directory that exists, relative to the file it is in, inside the repository. A
   `#fragment` names a heading (or an `id="…"` / `name="…"` anchor) of the target, when
   the target is markdown (or the same file). Heading slugs: lower case; letters,
   digits, `_` and `-` kept; each whitespace character becomes `-`; everything else is
   dropped (code spans, links and emphasis count by their text); a repeated slug gets
   `-1`, `-2`, … in the order of the file. That is mdBook's rule (files under
   docs/src) and GitHub's (every other file). Links inside code are not links.

2. SUMMARY.md. Every .md file under docs/src except SUMMARY.md is a chapter in
   docs/src/SUMMARY.md; every SUMMARY.md entry names an existing file; no draft
   chapters (`[Title]()`). (book.toml sets create-missing = false, so mdBook fails on a
   missing file too, instead of creating it in the work tree.)

3. Commands. Every shell command shown in a fenced block whose language is `bash`,
   `sh`, `shell` or `console` (console: only the lines that start with `$ `) must be one
   the project's scripts and tests run or check: ALLOWED below, as data. A line is
   read the way the shell would split it: `\\` continuations joined, comments dropped,
   `&&`, `||`, `;` and `|` separate commands, each `$(…)` is a command of its own (and
   one word where it stands), leading `VAR=value` assignments are dropped. Then:
   - `rebound …` (also `cargo run -p rebound-cli -- …`) is parsed against the CLI's
     clap derive definitions in CLAP_SOURCES: an unknown subcommand or flag, a flag
     without its value, a missing subcommand or a value outside a value enum fails.
     Placeholders stand where a value goes: `<anything>`, UPPER_CASE words, `$VAR`, and
     `[…]` around optional parts is read without the brackets.
   - `aws …` is allowed only in a block marked as an AWS example: the info string
     `bash aws` (the fence line is ```` ```bash aws ````; GitHub and mdBook still
     highlight it as bash). Such commands act on a real account, which nothing here
     can check, so a reader must be able to tell them apart.
   - A `sam deploy …` or `sam local invoke …` line in docs/ must also be in README.md,
     word for word: scripts/lib/template_checks.py checks the README's lines against
     template.yaml and samconfig.toml, so a copy in the book stays checked.
   - An argument that is a repository path (events/…, scripts/…, emulator/…,
     examples/…, bench/…, docs/…; no placeholder or glob) must exist.

4. The Performance summary: the file scripts/bench passes to bench/report.py --readme
   (its full run) holds both markers bench/report.py rewrites between.

Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import tempfile
import textwrap
import unittest
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

DOCS_SRC = Path("docs/src")
CLAP_SOURCES = (Path("cli/src/main.rs"), Path("cli/src/drill/mod.rs"))
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
AWS_BLOCK_MARK = "aws"
PATH_PREFIXES = ("events/", "scripts/", "emulator/", "examples/", "bench/", "docs/")
PERFORMANCE_MARKERS = ("<!-- bench:performance:begin -->", "<!-- bench:performance:end -->")

# The commands the docs may show: each pattern must match the whole command (words
# joined by one space; a $(…) is one word, __SUBST__). Kept to what the project's
# scripts and tests run or check, so a command in the docs is one that works.
ALLOWED: tuple[tuple[str, str], ...] = (
    (r"scripts/demo", "the local demo (README); its function watch is tests/tests/demo_watch.rs"),
    (r"scripts/test", "every test; .ci/run runs it"),
    (r"scripts/docs", "builds and checks the book (this script)"),
    (r"scripts/bench( --quick| --fuzz| --no-profile| --variants \S+| --before \S+)*", "scripts/bench's usage()"),
    (r"scripts/lint-template( \S+)?", "scripts/test runs it"),
    (r"scripts/lint-example", "scripts/test runs it"),
    (r"scripts/sam-env-vars( --(stack-name|template|region|profile|out) \S+)*",
     "scripts/lib/sam_env_vars.py's arguments; template_checks.py tests the file it writes"),
    (r"sam build", "what template_checks.py checks the template for (SAM CLI >= 1.156, arm64)"),
    (r"sam deploy( .*)?", "template_checks.py runs the README's through SAM CLI's own parser"),
    (r"sam local invoke .*", "template_checks.py runs the README's up to the container"),
    (r"rustup target add aarch64-unknown-linux-gnu", "template_checks.py checks the README states it"),
    (r"python3 -m venv \.venv", "what scripts/lib/venv.sh (venv_ensure) does"),
    (r"\.venv/bin/pip install -r requirements-dev\.txt", "what scripts/lib/venv.sh (venv_ensure) does"),
    (r"\.venv/bin/python emulator/[a-z_]+\.py( .*)?", "the emulator's tools; scripts/test runs selfcheck.py"),
    (r"cargo install --path cli( --locked)?", "installs the rebound CLI (package rebound-cli)"),
    (r"cargo run -p rebound-cli -- .*", "the CLI from source: checked as a rebound command"),
    (r"rebound( .*)?", "checked against the clap definitions of CLAP_SOURCES"),
    (r"export [A-Z_][A-Z0-9_]*=\S*", "a shell variable for the commands after it"),
    (r"aws .*", "only in a block marked `bash aws` (an AWS example)"),
)


@dataclass
class Finding:
    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


# --------------------------------------------------------------------------- markdown


@dataclass
class Block:
    """A fenced code block: its info string's words and its lines (with line numbers)."""

    language: str
    attributes: list[str]
    start: int
    lines: list[tuple[int, str]]


@dataclass
class Markdown:
    path: Path  # relative to the root
    text: str
    prose: str  # the text with fenced blocks and code spans blanked (newlines kept)
    blocks: list[Block]


FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


def read_markdown(root: Path, relative: Path) -> Markdown:
    text = (root / relative).read_text(encoding="utf-8")
    out: list[str] = []
    blocks: list[Block] = []
    fence: str | None = None
    block: Block | None = None
    for number, line in enumerate(text.split("\n"), 1):
        match = FENCE.match(line)
        if fence is None and match and not (match.group(2)[0] == "`" and "`" in match.group(3)):
            fence = match.group(2)
            words = match.group(3).replace(",", " ").split()
            block = Block(words[0].lower() if words else "", [w.lower() for w in words[1:]], number, [])
            out.append("")
            continue
        if fence is not None:
            stripped = line.strip()
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                assert block is not None
                blocks.append(block)
                fence, block = None, None
            else:
                assert block is not None
                block.lines.append((number, line))
            out.append("")
            continue
        out.append(line)
    if block is not None:
        blocks.append(block)
    prose = blank_code_spans("\n".join(out))
    return Markdown(relative, text, prose, blocks)


CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)


def blank_code_spans(text: str) -> str:
    return CODE_SPAN.sub(lambda m: "\n" * m.group(0).count("\n") or " ", text)


def heading_text(raw: str) -> str:
    """A heading's text as a renderer shows it: code by its content, links by their text,
    no emphasis markers or HTML tags."""
    raw = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    raw = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    raw = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", raw)
    parts = re.split(r"(`+)(.+?)\1", raw)
    # re.split with two groups yields: text, ticks, code, text, ticks, code, …
    plain: list[str] = []
    for index, part in enumerate(parts):
        kind = index % 3
        if kind == 0:
            part = re.sub(r"<[^>]*>", "", part)
            part = part.replace("*", "")
            part = re.sub(r"(?<![0-9A-Za-z])_+|_+(?![0-9A-Za-z])", "", part)
            for entity in ("&lt;", "&gt;", "&amp;", "&#39;", "&quot;"):
                part = part.replace(entity, "")
            plain.append(part)
        elif kind == 2:
            plain.append(part)
    return "".join(plain).strip()


def slug_mdbook(text: str) -> str:
    # mdbook::utils::normalize_id (0.4.x)
    out = []
    for ch in text:
        if ch.isalnum() or ch in "_-":
            out.append(ch.lower() if ch.isascii() else ch)
        elif ch.isspace():
            out.append("-")
    return "".join(out)


def slug_github(text: str) -> str:
    out = []
    for ch in text.strip().lower():
        if ch.isalnum() or ch in "_-" or unicodedata.category(ch).startswith("M"):
            out.append(ch)
        elif ch.isspace():
            out.append("-")
    return "".join(out)


ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
HTML_ANCHOR = re.compile(r"""<[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']""")


def anchors(doc: Markdown, mdbook: bool) -> set[str]:
    slug = slug_mdbook if mdbook else slug_github
    seen: dict[str, int] = {}
    result: set[str] = set()
    lines = doc.prose.split("\n")
    raw_lines = doc.text.split("\n")
    for index, line in enumerate(lines):
        text = None
        match = ATX.match(line)
        if match and line.strip():
            text = raw_lines[index]
            text = ATX.match(text).group(2) or ""  # type: ignore[union-attr]
        elif (SETEXT.match(line) and index > 0 and lines[index - 1].strip()
              and not lines[index - 1].lstrip().startswith(("|", "-", "*", "+", ">", "#"))
              and not re.match(r"^\s*\d+[.)]\s", lines[index - 1])):
            text = raw_lines[index - 1].strip()
        if text is None:
            continue
        base = slug(heading_text(text))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    result.update(HTML_ANCHOR.findall(doc.text))
    return result


INLINE_LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*(<[^>]*>|\S+)", re.M)
HTML_HREF = re.compile(r"""<(?:a|img)\b[^>]*\b(?:href|src)\s*=\s*["']([^"']+)["']""")


def links(doc: Markdown) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []

    def line_of(offset: int) -> int:
        return doc.prose.count("\n", 0, offset) + 1

    for match in INLINE_LINK.finditer(doc.prose):
        found.append((line_of(match.start()), match.group(3).strip("<>")))
    for match in REFERENCE_DEF.finditer(doc.prose):
        found.append((line_of(match.start()), match.group(2).strip("<>")))
    for match in HTML_HREF.finditer(doc.prose):
        found.append((line_of(match.start()), match.group(1)))
    return found


def is_url(target: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", target)) or target.startswith("//")


def doc_files(root: Path) -> list[Path]:
    files = [Path("README.md")] if (root / "README.md").is_file() else []
    src = root / DOCS_SRC
    if src.is_dir():
        files += sorted(p.relative_to(root) for p in src.rglob("*.md"))
    return files


def under_book(path: Path) -> bool:
    return path.parts[: len(DOCS_SRC.parts)] == DOCS_SRC.parts


class AnchorCache:
    def __init__(self, root: Path):
        self.root = root
        self.cache: dict[Path, set[str]] = {}

    def of(self, relative: Path) -> set[str]:
        if relative not in self.cache:
            self.cache[relative] = anchors(read_markdown(self.root, relative), under_book(relative))
        return self.cache[relative]


def check_links(root: Path, docs: list[Markdown]) -> tuple[list[Finding], int]:
    findings: list[Finding] = []
    cache = AnchorCache(root)
    count = 0
    resolved_root = root.resolve()
    for doc in docs:
        for line, target in links(doc):
            if is_url(target):
                continue
            count += 1
            path_part, _, fragment = target.partition("#")
            path_part = unquote(path_part)
            if path_part.startswith("/"):
                findings.append(Finding(doc.path, line, f"link {target!r}: use a path relative to this file"))
                continue
            if path_part:
                resolved = (root / doc.path.parent / path_part).resolve()
                try:
                    relative = resolved.relative_to(resolved_root)
                except ValueError:
                    findings.append(Finding(doc.path, line, f"link {target!r} leaves the repository"))
                    continue
                if not resolved.exists():
                    findings.append(Finding(doc.path, line, f"broken link {target!r}: no {relative}"))
                    continue
            else:
                relative = doc.path
            if fragment:
                if relative.suffix.lower() != ".md" or not (root / relative).is_file():
                    continue
                if unquote(fragment) not in cache.of(relative):
                    rule = "mdBook" if under_book(relative) else "GitHub"
                    findings.append(Finding(doc.path, line,
                                            f"bad anchor {target!r}: {relative} has no heading with the "
                                            f"{rule} slug {fragment!r}"))
    return findings, count


def unquote(text: str) -> str:
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text)


# --------------------------------------------------------------------------- SUMMARY.md


def check_summary(root: Path) -> list[Finding]:
    src = root / DOCS_SRC
    summary = DOCS_SRC / "SUMMARY.md"
    if not (root / summary).is_file():
        return [Finding(summary, 1, "the book has no SUMMARY.md")]
    doc = read_markdown(root, summary)
    findings: list[Finding] = []
    listed: set[Path] = set()
    for line, target in links(doc):
        if is_url(target):
            findings.append(Finding(summary, line, f"{target!r}: a chapter must be a file of the book"))
            continue
        path_part = unquote(target.partition("#")[0])
        if not path_part:
            findings.append(Finding(summary, line, "a draft chapter (no file); write it or leave it out"))
            continue
        resolved = (src / path_part).resolve()
        if not resolved.is_file():
            findings.append(Finding(summary, line, f"SUMMARY.md names {path_part}, which does not exist"))
            continue
        listed.add(resolved)
    for chapter in sorted(src.rglob("*.md")):
        if chapter.name == "SUMMARY.md" and chapter.parent == src:
            continue
        if chapter.resolve() not in listed:
            findings.append(Finding(chapter.relative_to(root), 1, "chapter missing from docs/src/SUMMARY.md"))
    return findings


# --------------------------------------------------------------------------- clap


@dataclass
class Flag:
    takes_value: bool
    values: list[str] | None = None  # a value enum's values


@dataclass
class Command:
    flags: dict[str, Flag] = field(default_factory=dict)
    positionals: list[list[str] | None] = field(default_factory=list)  # value enum values or None
    subcommands: dict[str, "Command"] = field(default_factory=dict)
    subcommand_required: bool = False


TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<raw>r(?P<hashes>\#*)".*?"(?P=hashes))
  | (?P<str>b?"(?:\\.|[^"\\])*")
  | (?P<char>b?'(?:\\.|[^\\'])')
  | (?P<lifetime>'[A-Za-z_]\w*)
  | (?P<ident>[A-Za-z_]\w*)
  | (?P<num>\d[\w.]*)
  | (?P<punct>::|->|=>|\S)
""", re.X | re.S)


def rust_tokens(source: str) -> list[str]:
    tokens = []
    for match in TOKEN.finditer(source):
        kind = match.lastgroup
        if kind in ("ws", "comment"):
            continue
        tokens.append(match.group(0))
    return tokens


OPEN = {"(": ")", "[": "]", "{": "}", "<": ">"}


def balanced(tokens: list[str], start: int) -> int:
    """Index just past the group opened at tokens[start] (brackets; `<` only as generics)."""
    stack = [OPEN[tokens[start]]]
    i = start + 1
    while i < len(tokens) and stack:
        t = tokens[i]
        if t in ("(", "[", "{") or (t == "<" and stack[-1] == ">"):
            stack.append(OPEN[t])
        elif t == stack[-1]:
            stack.pop()
        i += 1
    return i


def split_top(tokens: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    depth = 0
    for t in tokens:
        if t in ("(", "[", "{", "<"):
            depth += 1
        elif t in (")", "]", "}", ">"):
            depth -= 1
        if t == "," and depth == 0:
            parts.append([])
        else:
            parts[-1].append(t)
    return [p for p in parts if p]


@dataclass
class Attr:
    name: str
    args: dict[str, str | None]


def parse_attr(tokens: list[str]) -> Attr:
    # tokens of `name(args)` or `name = value` or `name`, without `#[` `]`
    name = tokens[0]
    args: dict[str, str | None] = {}
    if len(tokens) > 1 and tokens[1] == "(":
        for part in split_top(tokens[2:-1]):
            if "=" in part:
                key = part[0]
                value = "".join(part[part.index("=") + 1:])
                args[key] = value.strip('"').strip("'")
            else:
                args["".join(part)] = None
    return Attr(name, args)


@dataclass
class Member:
    attrs: list[Attr]
    name: str
    type_tokens: list[str]  # a field's type, or a tuple variant's
    fields: list["Member"] | None = None  # a struct variant's fields


@dataclass
class Item:
    kind: str  # enum | struct
    attrs: list[Attr]
    members: list[Member]

    def derives(self, trait: str) -> bool:
        return any(key.split("::")[-1] == trait for a in self.attrs if a.name == "derive" for key in a.args)


def read_attrs(tokens: list[str], i: int) -> tuple[list[Attr], int]:
    attrs = []
    while i + 1 < len(tokens) and tokens[i] == "#" and tokens[i + 1] in ("[", "!"):
        if tokens[i + 1] == "!":
            end = balanced(tokens, i + 2)
        else:
            end = balanced(tokens, i + 1)
            attrs.append(parse_attr(tokens[i + 2:end - 1]))
        i = end
    return attrs, i


def skip_visibility(tokens: list[str], i: int) -> int:
    if i < len(tokens) and tokens[i] == "pub":
        i += 1
        if i < len(tokens) and tokens[i] == "(":
            i = balanced(tokens, i)
    return i


def parse_members(tokens: list[str], is_enum: bool) -> list[Member]:
    members = []
    for part in split_top(tokens):
        attrs, i = read_attrs(part, 0)
        i = skip_visibility(part, i)
        if i >= len(part):
            continue
        name = part[i]
        rest = part[i + 1:]
        if is_enum:
            if rest and rest[0] == "{":
                members.append(Member(attrs, name, [], parse_members(rest[1:-1], False)))
            elif rest and rest[0] == "(":
                members.append(Member(attrs, name, rest[1:-1]))
            else:
                members.append(Member(attrs, name, []))
        elif rest and rest[0] == ":":
            members.append(Member(attrs, name, rest[1:]))
    return members


def parse_rust_items(source: str) -> dict[str, Item]:
    tokens = rust_tokens(source)
    items: dict[str, Item] = {}
    i = 0
    while i < len(tokens):
        attrs, j = read_attrs(tokens, i)
        j = skip_visibility(tokens, j)
        if j + 1 < len(tokens) and tokens[j] in ("enum", "struct") and re.match(r"\w+$", tokens[j + 1]):
            kind, name = tokens[j], tokens[j + 1]
            k = j + 2
            if k < len(tokens) and tokens[k] == "<":
                k = balanced(tokens, k)
            if k < len(tokens) and tokens[k] == "{":
                end = balanced(tokens, k)
                items[name] = Item(kind, attrs, parse_members(tokens[k + 1:end - 1], kind == "enum"))
                i = end
                continue
        i = max(j, i + 1)
    return items


def kebab(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name)
    return name.replace("_", "-").lower()


def type_name(type_tokens: list[str]) -> str:
    names = [t for t in type_tokens if re.match(r"[A-Za-z_]\w*$", t) and t not in ("Option", "Vec", "Box")]
    return names[-1] if names else ""


def clap_attr(attrs: list[Attr], *names: str) -> dict[str, str | None]:
    merged: dict[str, str | None] = {}
    for a in attrs:
        if a.name in names:
            merged.update(a.args)
    return merged


class ClapModel:
    def __init__(self, items: dict[str, Item]):
        self.items = items

    def value_enum(self, name: str) -> list[str] | None:
        item = self.items.get(name)
        if item is None or item.kind != "enum" or not item.derives("ValueEnum"):
            return None
        values = []
        for m in item.members:
            value = clap_attr(m.attrs, "value", "clap")
            if "skip" in value:
                continue
            values.append(value.get("name") or kebab(m.name))
        return values

    def root(self) -> Command:
        for item in self.items.values():
            if item.kind == "struct" and item.derives("Parser"):
                command = self.command_of(item.members)
                command.flags.setdefault("--help", Flag(False))
                command.flags.setdefault("-h", Flag(False))
                if "version" in clap_attr(item.attrs, "command", "clap"):
                    command.flags.setdefault("--version", Flag(False))
                    command.flags.setdefault("-V", Flag(False))
                return command
        raise ValueError("no struct with #[derive(Parser)]")

    def subcommands_of(self, enum_name: str) -> dict[str, Command]:
        item = self.items.get(enum_name)
        if item is None or item.kind != "enum":
            raise ValueError(f"subcommand enum {enum_name} not found")
        result = {}
        for variant in item.members:
            name = clap_attr(variant.attrs, "command", "clap").get("name") or kebab(variant.name)
            if variant.fields is not None:
                command = self.command_of(variant.fields)
            elif variant.type_tokens:
                inner = type_name(variant.type_tokens)
                inner_item = self.items.get(inner)
                if inner_item is not None and inner_item.kind == "enum":
                    command = Command(subcommands=self.subcommands_of(inner), subcommand_required=True)
                elif inner_item is not None:
                    command = self.command_of(inner_item.members)
                else:
                    raise ValueError(f"{enum_name}::{variant.name}: type {inner} not found")
            else:
                command = Command()
            command.flags.setdefault("--help", Flag(False))
            command.flags.setdefault("-h", Flag(False))
            result[name] = command
        return result

    def command_of(self, members: list[Member]) -> Command:
        command = Command()
        for member in members:
            self.add_field(command, member)
        return command

    def add_field(self, command: Command, member: Member) -> None:
        cmd_attr = clap_attr(member.attrs, "command", "clap")
        inner = type_name(member.type_tokens)
        if "subcommand" in cmd_attr:
            command.subcommands = self.subcommands_of(inner)
            command.subcommand_required = member.type_tokens[:1] != ["Option"]
            return
        if "flatten" in cmd_attr:
            item = self.items.get(inner)
            if item is None:
                raise ValueError(f"flattened {inner} not found")
            for m in item.members:
                self.add_field(command, m)
            return
        arg = clap_attr(member.attrs, "arg", "clap")
        values = self.value_enum(inner)
        action = arg.get("action") or ""
        takes_value = inner != "bool" and not re.search(r"SetTrue|SetFalse|Count|Help|Version", action)
        names = []
        if "long" in arg:
            names.append("--" + (arg["long"] or kebab(member.name)))
        if "short" in arg:
            names.append("-" + (arg["short"] or member.name[0]))
        if names:
            for n in names:
                command.flags[n] = Flag(takes_value, values)
        else:
            command.positionals.append(values)


def load_cli(root: Path) -> Command:
    items: dict[str, Item] = {}
    for source in CLAP_SOURCES:
        items.update(parse_rust_items((root / source).read_text(encoding="utf-8")))
    return ClapModel(items).root()


def is_placeholder(word: str) -> bool:
    return (word == "PLACEHOLDER" or "__SUBST" in word or "…" in word or word.startswith("$")
            or bool(re.fullmatch(r"[A-Z][A-Z0-9_]*", word)))


def check_rebound(words: list[str], root_command: Command) -> list[str]:
    """Errors of one `rebound` command line (words after `rebound`)."""
    words = [w.strip("[]") for w in words]
    words = [w for w in words if w]
    errors: list[str] = []
    command, path = root_command, ["rebound"]
    positionals = list(command.positionals)
    chose_subcommand = False
    i = 0
    while i < len(words):
        word = words[i]
        if word.startswith("-") and len(word) > 1 and not is_placeholder(word):
            name, eq, value = word.partition("=")
            flag = command.flags.get(name)
            if flag is None:
                errors.append(f"`{' '.join(path)}` has no flag {name}")
            elif flag.takes_value and not eq:
                if i + 1 >= len(words):
                    errors.append(f"`{' '.join(path)} {name}` needs a value")
                else:
                    i += 1
                    value = words[i]
            elif not flag.takes_value and eq:
                errors.append(f"`{' '.join(path)} {name}` takes no value")
            if flag is not None and flag.values and value and not is_placeholder(value) and value not in flag.values:
                errors.append(f"`{' '.join(path)} {name}`: {value!r} is not one of {', '.join(flag.values)}")
        elif command.subcommands and not chose_subcommand and word in command.subcommands:
            command = command.subcommands[word]
            path.append(word)
            positionals = list(command.positionals)
            chose_subcommand = False
        elif positionals:
            values = positionals.pop(0)
            if values and not is_placeholder(word) and word not in values:
                errors.append(f"`{' '.join(path)}`: {word!r} is not one of {', '.join(values)}")
        elif command.subcommands:
            errors.append(f"`{' '.join(path)}` has no subcommand {word!r} "
                          f"(it has: {', '.join(sorted(command.subcommands))})")
            return errors
        else:
            errors.append(f"`{' '.join(path)}`: unexpected argument {word!r}")
        i += 1
    if command.subcommands and command.subcommand_required:
        errors.append(f"`{' '.join(path)}` needs a subcommand ({', '.join(sorted(command.subcommands))})")
    return errors


# --------------------------------------------------------------------------- commands


@dataclass
class ShellCommand:
    path: Path
    line: int
    words: list[str]  # $(…) as __SUBSTn__
    text: str  # words joined, $(…) written out again
    aws_block: bool


SUBST = re.compile(r"\$\(([^()]*)\)")
SEPARATORS = {"&&", "||", ";", "|", "&"}


def split_commands(line: str) -> tuple[list[list[str]], dict[str, str]]:
    substitutions: dict[str, str] = {}

    def keep(match: re.Match[str]) -> str:
        key = f"__SUBST{len(substitutions)}__"
        substitutions[key] = match.group(1)
        return key

    line = SUBST.sub(keep, line)
    line = re.sub(r"<[^<>\n]*>", "PLACEHOLDER", line)
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError as err:
        raise ValueError(f"cannot split {line!r}: {err}") from err
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token in SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c], substitutions


def shell_commands(doc: Markdown) -> tuple[list[ShellCommand], list[Finding]]:
    found: list[ShellCommand] = []
    findings: list[Finding] = []
    for block in doc.blocks:
        if block.language not in SHELL_LANGUAGES:
            continue
        aws = AWS_BLOCK_MARK in block.attributes
        logical: list[tuple[int, str]] = []
        pending: tuple[int, str] | None = None
        for number, line in block.lines:
            if block.language == "console" and pending is None:
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            if pending is not None:
                pending = (pending[0], pending[1] + " " + line.strip())
            else:
                pending = (number, line)
            if pending[1].rstrip().endswith("\\"):
                pending = (pending[0], pending[1].rstrip()[:-1])
                continue
            logical.append(pending)
            pending = None
        if pending is not None:
            logical.append(pending)
        for number, line in logical:
            try:
                commands, substitutions = split_commands(line)
            except ValueError as err:
                findings.append(Finding(doc.path, number, str(err)))
                continue
            queue = [(c, substitutions) for c in commands]
            while queue:
                words, subs = queue.pop(0)
                while words and re.match(r"[A-Za-z_][A-Za-z0-9_]*=", words[0]):
                    words = words[1:]
                if not words:
                    continue
                text = " ".join(words)
                for key, inner in subs.items():
                    text = text.replace(key, f"$({' '.join(inner.split())})")
                found.append(ShellCommand(doc.path, number, words, text, aws))
                for key, inner in subs.items():
                    if any(key in w for w in words):
                        inner_commands, inner_subs = split_commands(inner)
                        queue += [(c, inner_subs) for c in inner_commands]
    return found, findings


def check_commands(root: Path, docs: list[Markdown]) -> tuple[list[Finding], int]:
    findings: list[Finding] = []
    cli: Command | None = None
    allowed = [(re.compile(pattern), why) for pattern, why in ALLOWED]
    readme_lines: set[str] = set()
    per_doc: list[list[ShellCommand]] = []
    for doc in docs:
        commands, problems = shell_commands(doc)
        findings += problems
        per_doc.append(commands)
        if doc.path == Path("README.md"):
            readme_lines |= {c.text for c in commands}
    count = 0
    for commands in per_doc:
        for command in commands:
            count += 1
            joined = " ".join(command.words)
            where = (command.path, command.line)
            if not any(p.fullmatch(joined) for p, _ in allowed):
                findings.append(Finding(*where, f"`{command.text}` is not a command the project runs or checks "
                                               "(ALLOWED in scripts/lib/docs_check.py)"))
                continue
            first = command.words[0]
            if first == "aws" and not command.aws_block:
                findings.append(Finding(*where, f"`{command.text}`: an aws command outside a block marked "
                                               "as an AWS example (```bash aws)"))
            rebound_words = None
            if first == "rebound":
                rebound_words = command.words[1:]
            elif joined.startswith("cargo run -p rebound-cli -- "):
                rebound_words = command.words[5:]
            if rebound_words is not None:
                if cli is None:
                    cli = load_cli(root)
                for error in check_rebound(rebound_words, cli):
                    findings.append(Finding(*where, error))
            if command.path != Path("README.md") and (joined.startswith("sam deploy")
                                                      or joined.startswith("sam local invoke")):
                if command.text not in readme_lines:
                    findings.append(Finding(*where, f"`{command.text}` is not in README.md, where "
                                                   "scripts/lib/template_checks.py checks it: copy it there word for word"))
            for word in command.words:
                if (word.startswith(PATH_PREFIXES) and not is_placeholder(word)
                        and not any(c in word for c in "*?[{$")):
                    if not (root / word).exists():
                        findings.append(Finding(*where, f"`{command.text}`: {word} does not exist"))
    return findings, count


# --------------------------------------------------------------------------- performance


def check_performance(root: Path) -> list[Finding]:
    bench = root / "scripts" / "bench"
    if not bench.is_file():
        return []
    script = bench.read_text(encoding="utf-8").replace("\\\n", " ")
    targets = re.findall(r"bench/report\.py\b.*--readme\s+(\S+)", script)
    findings = []
    for target in targets:
        if target.startswith(('"$', "$")):
            continue  # the quick run's scratch copy
        path = root / target
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        begin, end = (text.find(m) for m in PERFORMANCE_MARKERS)
        if begin < 0 or end < begin:
            findings.append(Finding(Path(target), 1, "scripts/bench regenerates this file's Performance summary "
                                                     f"between {PERFORMANCE_MARKERS[0]} and {PERFORMANCE_MARKERS[1]}; "
                                                     "the markers are missing"))
    return findings


# --------------------------------------------------------------------------- main


def check(root: Path) -> tuple[list[Finding], dict[str, int]]:
    docs = [read_markdown(root, p) for p in doc_files(root)]
    link_findings, link_count = check_links(root, docs)
    command_findings, command_count = check_commands(root, docs)
    findings = link_findings + check_summary(root) + command_findings + check_performance(root)
    return findings, {"files": len(docs), "links": link_count, "commands": command_count}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="the repository (default: this one)")
    parser.add_argument("--self-test", action="store_true", help="run this script's own tests instead")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.self_test:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(SelfTest)
        result = unittest.TextTestRunner(verbosity=2 if args.verbose else 1).run(suite)
        return 0 if result.wasSuccessful() else 1
    findings, counts = check(args.root)
    for finding in findings:
        print(finding, file=sys.stderr)
    summary = f"{counts['files']} files, {counts['links']} internal links, {counts['commands']} commands"
    if findings:
        print(f"docs_check: {len(findings)} finding(s) in {summary}", file=sys.stderr)
        return 1
    print(f"docs_check: OK ({summary})")
    return 0


# --------------------------------------------------------------------------- self-test

MAIN_RS = '''
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "rebound", version, about = "tools [sic]")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List incidents (or `incidents show ID`).
    Incidents {
        #[command(subcommand)]
        show: Option<IncidentsCommand>,
        #[arg(long)]
        open: bool,
        #[arg(long, value_name = "DURATION", value_parser = select::parse_duration)]
        since: Option<Duration>,
    },
    Invoke {
        function: Function,
        #[arg(long, short)]
        event: PathBuf,
    },
    Drill {
        #[command(subcommand)]
        drill: drill::DrillCommand,
    },
}

#[derive(Subcommand)]
enum IncidentsCommand {
    Show { id: String, #[arg(long)] json: bool },
}

#[derive(Clone, Copy, ValueEnum)]
enum Function { TargetHealth, RdsHealth }
'''

DRILL_RS = '''
#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    Instance {
        #[arg(long)]
        asg: String,
        #[arg(long)]
        terminate: bool,
        #[command(flatten)]
        options: DrillOptions,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Via { Api, Fis }

#[derive(Debug, Clone, Args)]
pub struct DrillOptions {
    #[arg(long, value_enum, default_value = "api")]
    pub via: Via,
    #[arg(long, value_name = "NAME")]
    pub abort_on_alarm: Vec<String>,
}
'''

README = '''# Demo

See [the chapter](docs/src/guide.md#a-section) and [setup](#set-up-rebound).

## Set up `rebound`

```bash
scripts/demo   # the demo
sam deploy --config-env prod
```
'''

GUIDE = '''# Guide

## A section

Back to the [README](../../README.md#set-up-rebound), [here](#a-section-1),
[an emulator section](../../emulator/README.md#running-it) and `[not a link](nowhere.md)`.

## A section

```bash
rebound incidents --open --since 7d
rebound incidents show inc-1 --json
rebound invoke target-health --event events/e.json
cargo run -p rebound-cli -- drill instance --asg NAME [--terminate] --via fis --abort-on-alarm <alarm name>
sam deploy --config-env prod
```

```bash aws
export TABLE=$(aws cloudformation describe-stacks --stack-name rebound --output text)
```
'''


class SelfTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)
        self.write("cli/src/main.rs", MAIN_RS)
        self.write("cli/src/drill/mod.rs", DRILL_RS)
        self.write("README.md", README)
        self.write("docs/book.toml", "[book]\ntitle = \"t\"\n")
        self.write("docs/src/SUMMARY.md", "# Summary\n\n- [Guide](guide.md)\n")
        self.write("docs/src/guide.md", GUIDE)
        self.write("emulator/README.md", "# Emulator\n\n## Running it\n")
        self.write("events/e.json", "{}")
        self.write("scripts/demo", "#!/bin/sh\n")

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n") if relative.endswith(".md") else text)

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.root / relative
        text = path.read_text()
        self.assertIn(old, text)
        path.write_text(text.replace(old, new, 1))

    def findings(self) -> list[str]:
        return [str(f) for f in check(self.root)[0]]

    def assertFinds(self, fragment: str) -> None:
        found = self.findings()
        self.assertTrue(any(fragment in f for f in found), f"no finding with {fragment!r} in {found}")

    def test_a_clean_tree_passes(self) -> None:
        self.assertEqual(self.findings(), [])

    def test_a_broken_file_link_fails(self) -> None:
        self.edit("docs/src/guide.md", "../../README.md#", "../../READ_ME.md#")
        self.assertFinds("docs/src/guide.md:5: broken link '../../READ_ME.md#set-up-rebound'")

    def test_a_bad_anchor_fails(self) -> None:
        self.edit("README.md", "guide.md#a-section", "guide.md#a-sectoin")
        self.assertFinds("README.md:3: bad anchor 'docs/src/guide.md#a-sectoin'")

    def test_an_anchor_of_a_repeated_heading_needs_its_number(self) -> None:
        self.edit("docs/src/guide.md", "(#a-section-1)", "(#a-section-2)")
        self.assertFinds("bad anchor '#a-section-2'")

    def test_slugs_follow_mdbook_and_github(self) -> None:
        self.assertEqual(slug_mdbook(heading_text("Never `--guided` on an existing stack")),
                         "never---guided-on-an-existing-stack")
        self.assertEqual(slug_github(heading_text("Fidelity layer: what moto (5.2.5) does not do")),
                         "fidelity-layer-what-moto-525-does-not-do")
        self.assertEqual(slug_mdbook(heading_text("RDS events (`rds-health`)")), "rds-events-rds-health")
        self.assertEqual(slug_github(heading_text("**Bold** and [a link](x.md) and snake_case")),
                         "bold-and-a-link-and-snake_case")

    def test_an_unknown_rebound_flag_fails(self) -> None:
        self.edit("docs/src/guide.md", "--open --since 7d", "--open --sinse 7d")
        self.assertFinds("`rebound incidents` has no flag --sinse")

    def test_a_flag_of_a_flattened_struct_is_known_and_checked(self) -> None:
        self.edit("docs/src/guide.md", "--via fis", "--via ssm")
        self.assertFinds("`rebound drill instance --via`: 'ssm' is not one of api, fis")

    def test_an_unknown_rebound_subcommand_fails(self) -> None:
        self.edit("docs/src/guide.md", "rebound invoke target-health", "rebound run target-health")
        self.assertFinds("`rebound` has no subcommand 'run'")

    def test_a_value_outside_a_value_enum_fails(self) -> None:
        self.edit("docs/src/guide.md", "rebound invoke target-health", "rebound invoke target_health")
        self.assertFinds("'target_health' is not one of target-health, rds-health")

    def test_a_drill_without_its_kind_fails(self) -> None:
        self.edit("docs/src/guide.md", "-- drill instance --asg NAME [--terminate] --via fis --abort-on-alarm <alarm name>",
                  "-- drill")
        self.assertFinds("`rebound drill` needs a subcommand")

    def test_a_chapter_missing_from_summary_fails(self) -> None:
        self.write("docs/src/orphan.md", "# Orphan\n")
        self.assertFinds("docs/src/orphan.md:1: chapter missing from docs/src/SUMMARY.md")

    def test_a_summary_entry_without_its_file_fails(self) -> None:
        self.edit("docs/src/SUMMARY.md", "- [Guide](guide.md)\n", "- [Guide](guide.md)\n- [Gone](gone.md)\n")
        self.assertFinds("SUMMARY.md names gone.md, which does not exist")

    def test_an_aws_command_outside_an_aws_block_fails(self) -> None:
        self.edit("docs/src/guide.md", "```bash aws", "```bash")
        self.assertFinds("an aws command outside a block marked as an AWS example")

    def test_a_command_nobody_runs_fails(self) -> None:
        self.edit("README.md", "scripts/demo   # the demo", "make demo")
        self.assertFinds("`make demo` is not a command the project runs or checks")

    def test_a_sam_deploy_only_in_the_book_fails(self) -> None:
        self.edit("docs/src/guide.md", "sam deploy --config-env prod", "sam deploy --config-env staging")
        self.assertFinds("`sam deploy --config-env staging` is not in README.md")

    def test_a_missing_repository_path_in_a_command_fails(self) -> None:
        self.edit("docs/src/guide.md", "events/e.json", "events/f.json")
        self.assertFinds("events/f.json does not exist")

    def test_the_performance_markers_must_be_where_scripts_bench_writes(self) -> None:
        self.write("scripts/bench", 'python bench/report.py "$OUT" --readme docs/src/guide.md\n')
        self.assertFinds("docs/src/guide.md:1: scripts/bench regenerates")
        self.edit("docs/src/guide.md", "## A section\n\n```", "## A section\n\n"
                  + "\n".join(PERFORMANCE_MARKERS) + "\n\n```")
        self.assertEqual(self.findings(), [])

    def test_the_real_cli_definitions_parse(self) -> None:
        cli = load_cli(REPO_ROOT)
        self.assertLessEqual({"incidents", "report", "invoke", "drill"}, set(cli.subcommands))
        drill = cli.subcommands["drill"]
        self.assertLessEqual({"instance", "database", "az"}, set(drill.subcommands))
        self.assertIn("--abort-on-alarm", drill.subcommands["instance"].flags)
        self.assertEqual(drill.subcommands["az"].flags["--via"].values, ["api", "fis"])
        self.assertEqual(check_rebound("drill az --asg web --az us-east-1b --yes".split(), cli), [])
        self.assertTrue(check_rebound("drill az --asg web --zone us-east-1b".split(), cli))


if __name__ == "__main__":
    sys.exit(main())
