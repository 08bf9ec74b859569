"""A trace's spans as a tree (``cmpctl trace``): nested dicts for --json, a rich Tree for people."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.tree import Tree


def span_tree(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nest ``spans`` under their parents; spans whose parent is not among them are roots
    (the trace's root, or spans whose parent's process has not exported yet)."""
    nodes = {s["span_id"]: {**s, "children": []} for s in spans}
    roots = []
    for s in spans:
        node = nodes[s["span_id"]]
        parent = nodes.get(s.get("parent_id") or "")
        (parent["children"] if parent is not None else roots).append(node)
    return roots


def _label(node: dict[str, Any]) -> str:
    ms = node.get("duration_ms")
    took = "?" if ms is None else (f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms")
    attrs = node.get("attributes") or {}
    shown = ", ".join(f"{k}={v}" for k, v in attrs.items() if k.startswith("cmp."))
    status = " [red]ERROR[/red]" + (f" {escape(node['status_message'])}" if node.get("status_message") else "") \
        if node.get("status") == "ERROR" else ""
    return f"[bold]{escape(node['name'])}[/bold]  {took}{status}" + (f"  [dim]{escape(shown)}[/dim]" if shown else "")


def render_tree(trace_id: str, roots: list[dict[str, Any]]) -> Tree:
    tree = Tree(f"trace {trace_id}")

    def add(branch: Tree, node: dict[str, Any]) -> None:
        child = branch.add(_label(node))
        for sub in node["children"]:
            add(child, sub)

    for root in roots:
        add(tree, root)
    return tree


__all__ = ["render_tree", "span_tree"]
