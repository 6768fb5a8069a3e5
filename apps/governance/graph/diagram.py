"""A server-side SVG diagram of a governance graph: states on a circle, transitions as arrows.

No JavaScript and nothing external, so the public page renders anywhere.
"""

import math
from html import escape

from apps.governance.graph.manifest import Graph, SanctionSpec

WIDTH, HEIGHT = 760, 520
BOX_W, BOX_H = 150, 46
FONT = "Arial, Helvetica, sans-serif"
LABEL_FONT = 10.5
# Label boxes are estimated, not measured (no browser here): a generous width per character, the
# line's ascent and descent, and a margin around each, so a label that fits by this estimate fits
# as drawn.
CHAR_W, ASCENT, DESCENT, MARGIN = 6.2, 11.0, 3.0, 3.0

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _overlap(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


Point = tuple[float, float]


def _label_place(text: str, start: Point, control: Point, end: Point, bend: Point, pos: dict[str, Point],
                 placed: list[Box]) -> tuple[float, float, str]:
    """Where an edge's label goes: the first spot along its curve, on the side it bends to, whose
    box covers no state and no label placed before; failing that, the spot covering the least.
    The chosen box is added to `placed`."""
    width = len(text) * CHAR_W + 4
    length = math.hypot(*bend) or 1.0
    nx, ny = bend[0] / length, bend[1] / length
    states = [(x - BOX_W / 2 - 4, y - BOX_H / 2 - 4, x + BOX_W / 2 + 4, y + BOX_H / 2 + 4) for x, y in pos.values()]
    best: tuple[float, float, float, str, Box] | None = None
    for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8):
        px = (1 - t) ** 2 * start[0] + 2 * (1 - t) * t * control[0] + t ** 2 * end[0]
        py = (1 - t) ** 2 * start[1] + 2 * (1 - t) * t * control[1] + t ** 2 * end[1]
        for shift in (4, 16, 30, -12):
            x, y = px + nx * shift, py + ny * shift
            for anchor in _anchors(nx, ny):
                x0 = x if anchor == "start" else x - width if anchor == "end" else x - width / 2
                # beside the curve: centred on the point; above or below it: clear of it
                baseline = y + (4 if anchor != "middle" else ASCENT if ny > 0 else -DESCENT)
                box = (x0 - MARGIN, baseline - ASCENT - MARGIN, x0 + width + MARGIN, baseline + DESCENT + MARGIN)
                cost = sum(_overlap(box, b) for b in placed) + 10 * sum(_overlap(box, b) for b in states)
                cost += 100 * (max(0.0, -box[0]) + max(0.0, box[2] - WIDTH) + max(0.0, -box[1]) + max(0.0, box[3] - HEIGHT))
                if best is None or cost < best[0]:
                    best = (cost, x, baseline, anchor, box)
                if cost == 0:
                    placed.append(box)
                    return x, baseline, anchor
    assert best is not None
    placed.append(best[4])
    return best[1], best[2], best[3]


def _anchors(nx: float, ny: float) -> tuple[str, ...]:
    """Text anchors that grow the label away from the curve, best first."""
    if abs(nx) < abs(ny) / 2:
        return ("middle", "start", "end")
    return ("start", "middle") if nx > 0 else ("end", "middle")


def _positions(names: list[str]) -> dict[str, tuple[float, float]]:
    cx, cy = WIDTH / 2, HEIGHT / 2
    if len(names) == 1:
        return {names[0]: (cx, cy)}
    rx, ry = WIDTH / 2 - BOX_W / 2 - 20, HEIGHT / 2 - BOX_H / 2 - 30
    return {
        name: (cx + rx * math.cos(-math.pi / 2 + 2 * math.pi * i / len(names)),
               cy + ry * math.sin(-math.pi / 2 + 2 * math.pi * i / len(names)))
        for i, name in enumerate(names)
    }


def _edge_point(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float]:
    """Where the segment from the centre (x1, y1) toward (x2, y2) leaves the state's box."""
    dx, dy = x2 - x1, y2 - y1
    if dx == 0 and dy == 0:
        return x1, y1
    scale = min((BOX_W / 2 + 4) / abs(dx) if dx else math.inf, (BOX_H / 2 + 4) / abs(dy) if dy else math.inf)
    return x1 + dx * scale, y1 + dy * scale


def render_svg(graph: Graph) -> str:
    names = list(graph.states)
    pos = _positions(names)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" font-family="{FONT}" '
        f'aria-label="Governance graph {escape(graph.name)}" class="graph-diagram">',
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#475569"/></marker>'
        '<marker id="arrow-ok" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#1a7f37"/></marker></defs>',
    ]
    edges = []
    for t in graph.transitions:
        for source in t.sources:
            edges.append((source, t.target, t.label, t.restorative or t.kind == "reviewer", False))
    for state in graph.states.values():
        if state.decay:
            edges.append((state.name, state.decay.to, f"decays after {_duration(state.decay.after_seconds)}", True, True))
    seen_pairs: dict[tuple[str, str], int] = {}
    placed: list[Box] = []
    for source, target, label, gentle, dashed in edges:
        (x1, y1), (x2, y2) = pos[source], pos[target]
        n = seen_pairs[(source, target)] = seen_pairs.get((source, target), 0) + 1
        # bend each arrow to its left, so A->B and B->A do not overlap, more for repeats
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        length = math.hypot(x2 - x1, y2 - y1) or 1
        bend = 28 * n
        qx, qy = mx - (y2 - y1) / length * bend, my + (x2 - x1) / length * bend
        sx, sy = _edge_point(x1, y1, qx, qy)
        ex, ey = _edge_point(x2, y2, qx, qy)
        colour = "#1a7f37" if gentle else "#475569"
        dash = ' stroke-dasharray="5 4"' if dashed or gentle else ""
        marker = "arrow-ok" if gentle else "arrow"
        parts.append(
            f'<path d="M{sx:.1f},{sy:.1f} Q{qx:.1f},{qy:.1f} {ex:.1f},{ey:.1f}" fill="none" stroke="{colour}" '
            f'stroke-width="1.6"{dash} marker-end="url(#{marker})"><title>{escape(source)} → {escape(target)}: {escape(label)}</title></path>'
        )
        short = label if len(label) <= 34 else label[:33] + "…"
        lx, ly, anchor = _label_place(short, (sx, sy), (qx, qy), (ex, ey), (qx - mx, qy - my), pos, placed)
        parts.append(
            f'<text class="edge-label" x="{lx:.1f}" y="{ly:.1f}" font-size="{LABEL_FONT}" text-anchor="{anchor}" '
            f'fill="{colour}" paint-order="stroke" stroke="#fff" stroke-width="3">{escape(short)}</text>'
        )
    for name, (x, y) in pos.items():
        state = graph.states[name]
        initial = name == graph.initial
        fill = "#fdecea" if any(s["kind"] == "suspend" for s in state.sanctions) else (
            "#fff6e0" if state.sanctions else "#e8f5ec")
        parts.append(
            f'<g class="state" data-state="{escape(name)}"><rect x="{x - BOX_W / 2:.1f}" y="{y - BOX_H / 2:.1f}" '
            f'width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" stroke="#1d232b" '
            f'stroke-width="{2.5 if initial else 1}"/>'
            f'<text x="{x:.1f}" y="{y - 3:.1f}" font-size="13" font-weight="600" text-anchor="middle">{escape(name)}</text>'
            f'<text x="{x:.1f}" y="{y + 13:.1f}" font-size="10" text-anchor="middle" fill="#5b6673">'
            f'{escape(_sanction_summary(state.sanctions, initial))}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _sanction_summary(sanctions: tuple[SanctionSpec, ...], initial: bool) -> str:
    if not sanctions:
        return "initial · no sanctions" if initial else "no sanctions"
    kinds = []
    for s in sanctions:
        label = {"suspend": "suspended", "revoke": f"−{s.get('tool', '')}", "tighten": f"bounds {s.get('tool', '')}",
                 "fine": "fine"}[s["kind"]]
        if label not in kinds:
            kinds.append(label)
    text = ", ".join(kinds)
    return (text if len(text) <= 26 else text[:25] + "…") + (" · initial" if initial else "")


def _duration(seconds: int) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
