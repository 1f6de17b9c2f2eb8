#!/usr/bin/env python3
"""Fold `perf script` output into stacks, render a flame graph (SVG) and list the top frames.

    perf script -i perf.data --no-inline -F comm,tid,time,event,ip,sym,dso | \\
        .venv/bin/python bench/flamegraph.py --title "target-health: warm work invocations" \\
            --svg bench/flamegraphs/target-health.svg --folded OUT.folded --top OUT.json [--top-n 15]

Input (stdin or --input FILE): `perf script` text: one header line per sample, then its
frames, innermost first, one per line (`<ip> <symbol>+<offset> (<dso>)`), then a blank
line. Samples without frames are counted under their command name.

Outputs (each optional):
- --folded: the folded stacks (`root;caller;callee <count>` lines, root first), the format
  of Brendan Gregg's flamegraph.pl, so other tools can read them;
- --svg: a flame graph (root at the bottom; width = share of the samples; hover a frame for
  its name, samples and share). Self-contained SVG, no script;
- --top: JSON {"samples", "self": [{"frame", "samples", "share"}], "inclusive": [...]}:
  the frames with the most samples on top of the stack (self) and on the stack at all
  (inclusive, each frame counted once per sample even when recursive).

Symbol names: Rust legacy-mangled names (`_ZN...E`) that perf left mangled are demangled
here and their `::h<hash>` suffix dropped; `+0x...` offsets are dropped; unknown frames are
`[unknown] (<dso>)`. Standard library only.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import zlib
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, TextIO

FRAME = re.compile(r"^\s*([0-9a-fA-F]+)\s+(.*?)\s*(?:\((.*)\))?\s*$")
HASH_SUFFIX = re.compile(r"::h[0-9a-f]{16}$")
OFFSET = re.compile(r"\+0x[0-9a-fA-F]+$")


def demangle_legacy(name: str) -> str:
    """Rust legacy mangling: _ZN <len><ident>... E. Returns the input when it is not one."""
    if not name.startswith("_ZN") or not name.endswith("E"):
        return name
    body, parts, i = name[3:-1], [], 0
    try:
        while i < len(body):
            j = i
            while j < len(body) and body[j].isdigit():
                j += 1
            if j == i:
                return name
            length = int(body[i:j])
            parts.append(body[j : j + length])
            i = j + length
    except ValueError:
        return name
    text = "::".join(parts)
    for escaped, plain in (("$LT$", "<"), ("$GT$", ">"), ("$RF$", "&"), ("$BP$", "*"), ("$C$", ","),
                           ("$u20$", " "), ("$u27$", "'"), ("$u5b$", "["), ("$u5d$", "]"),
                           ("$u7b$", "{"), ("$u7d$", "}"), ("$u7e$", "~"), ("$LP$", "("), ("$RP$", ")"),
                           ("..", "::")):
        text = text.replace(escaped, plain)
    return text


def clean_symbol(symbol: str, dso: str | None) -> str:
    symbol = OFFSET.sub("", symbol.strip())
    if not symbol or symbol == "[unknown]":
        base = (dso or "?").rsplit("/", 1)[-1]
        return f"[unknown] ({base})"
    symbol = demangle_legacy(symbol)
    return HASH_SUFFIX.sub("", symbol)


def parse_perf_script(lines: Iterable[str]) -> Counter[tuple[str, ...]]:
    """Stacks (root first) and their sample counts."""
    stacks: Counter[tuple[str, ...]] = Counter()
    header: str | None = None
    frames: list[str] = []

    def flush() -> None:
        nonlocal header, frames
        if header is not None:
            stack = tuple(reversed(frames)) if frames else (header.split()[0] if header.split() else "?",)
            stacks[stack] += 1
        header, frames = None, []

    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip():
            flush()
            continue
        if line[0] in " \t":
            if header is None:
                continue
            match = FRAME.match(line)
            if match:
                frames.append(clean_symbol(match.group(2), match.group(3)))
            continue
        flush()
        header = line
    flush()
    return stacks


def top_frames(stacks: Counter[tuple[str, ...]], n: int, exclude: list[str]) -> dict[str, Any]:
    total = sum(stacks.values())
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    excluded = 0
    for stack, count in stacks.items():
        if any(pattern in frame for frame in stack for pattern in exclude):
            excluded += count
            continue
        self_counts[stack[-1]] += count
        for frame in set(stack):
            # Where unwinding stopped (no symbol, no object): on every stack, says nothing.
            if frame != "[unknown] ([unknown])":
                inclusive[frame] += count

    def rows(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"frame": f, "samples": c, "share": round(c / total, 4) if total else 0.0}
                for f, c in counter.most_common(n)]

    return {"samples": total, "excluded_samples": excluded, "excluded_patterns": exclude,
            "self": rows(self_counts), "inclusive": rows(inclusive)}


# --------------------------------------------------------------------------------------
# SVG
# --------------------------------------------------------------------------------------


class Node:
    __slots__ = ("name", "count", "children")

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.children: dict[str, Node] = {}


def tree(stacks: Counter[tuple[str, ...]]) -> Node:
    root = Node("all")
    for stack, count in stacks.items():
        root.count += count
        node = root
        for frame in stack:
            node = node.children.setdefault(frame, Node(frame))
            node.count += count
    return root


def color(name: str) -> str:
    """Warm colours, stable per name; the application's own crates a little greener."""
    h = zlib.crc32(name.encode())
    if name.startswith(("rebound", "target_health", "rds_health", "incident_notifier")):
        return f"rgb({120 + h % 60},{190 + (h >> 8) % 50},{80 + (h >> 16) % 40})"
    return f"rgb({205 + h % 50},{90 + (h >> 8) % 120},{40 + (h >> 16) % 40})"


def render_svg(stacks: Counter[tuple[str, ...]], title: str, subtitle: str, width: int = 1200) -> str:
    root = tree(stacks)
    frame_h, pad_top, pad_bottom, margin = 16, 48, 24, 10
    def depth(node: Node) -> int:
        return 1 + max((depth(c) for c in node.children.values()), default=0)
    levels = depth(root)
    height = pad_top + levels * frame_h + pad_bottom
    usable = width - 2 * margin
    total = root.count or 1
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Verdana, sans-serif" font-size="11">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8f8f8"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="16">{html.escape(title)}</text>',
        f'<text x="{width / 2}" y="38" text-anchor="middle" fill="#555">{html.escape(subtitle)}</text>',
    ]
    min_width = 0.3  # px: narrower frames are dropped (they would not be visible)

    def draw(node: Node, x: float, level: int) -> None:
        w = usable * node.count / total
        if w < min_width:
            return
        y = height - pad_bottom - (level + 1) * frame_h
        share = 100 * node.count / total
        label = html.escape(node.name)
        out.append(f'<g><title>{label} ({node.count} samples, {share:.2f} %)</title>'
                   f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{frame_h - 1}" rx="2" '
                   f'fill="{color(node.name)}"/>')
        chars = int((w - 6) / 6.5)
        if chars >= 3:
            text = node.name if len(node.name) <= chars else node.name[: chars - 2] + ".."
            out.append(f'<text x="{x + 3:.2f}" y="{y + frame_h - 4}">{html.escape(text)}</text>')
        out.append("</g>")
        child_x = x
        for child in sorted(node.children.values(), key=lambda c: c.name):
            draw(child, child_x, level + 1)
            child_x += usable * child.count / total

    draw(root, margin, 0)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, help="perf script output (default: stdin)")
    parser.add_argument("--title", default="Flame graph")
    parser.add_argument("--subtitle", default="")
    parser.add_argument("--svg", type=Path)
    parser.add_argument("--folded", type=Path)
    parser.add_argument("--top", type=Path)
    parser.add_argument("--top-n", type=int, default=15)
    parser.add_argument("--exclude", action="append", default=[],
                        help="leave samples whose stack has a frame containing this text out of --top (repeatable)")
    args = parser.parse_args(argv)
    source: TextIO = open(args.input, errors="replace") if args.input else sys.stdin  # noqa: SIM115
    with source:
        stacks = parse_perf_script(source)
    total = sum(stacks.values())
    if total == 0:
        print("flamegraph: no samples in the input", file=sys.stderr)
        return 1
    if args.folded:
        args.folded.parent.mkdir(parents=True, exist_ok=True)
        args.folded.write_text("".join(f"{';'.join(s)} {c}\n" for s, c in sorted(stacks.items())))
    if args.svg:
        args.svg.parent.mkdir(parents=True, exist_ok=True)
        subtitle = args.subtitle or f"{total} samples"
        args.svg.write_text(render_svg(stacks, args.title, subtitle))
    if args.top:
        args.top.parent.mkdir(parents=True, exist_ok=True)
        args.top.write_text(json.dumps(top_frames(stacks, args.top_n, args.exclude), indent=2) + "\n")
    print(f"flamegraph: {total} samples, {len(stacks)} distinct stacks", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
