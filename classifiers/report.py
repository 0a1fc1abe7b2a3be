"""The fit report: one self-contained HTML page (no CDN, no script) describing a model.

Silhouette per k as an inline SVG chart, class sizes, every segment card with its rules, the
centroid profiles as a heatmap table, and the report's notes and warnings. A string out; the
caller writes it beside the model.
"""

from __future__ import annotations

from html import escape

from classifiers.artifact import Model

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2330;
padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde}
.warn{background:#fff4d6;border-left:4px solid #e0a100;padding:.5rem 1rem}
.fallback{background:#ffe1e1;border-left:4px solid #c62828;padding:.5rem 1rem;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(20rem,1fr));gap:1rem}
.card{border:1px solid #dde;border-radius:6px;padding:.75rem 1rem}
.card h3{margin:.2rem 0}.slug{font-family:monospace;color:#556}
table{border-collapse:collapse}td,th{padding:.2rem .5rem;text-align:right}
th{font-weight:600}td.l,th.l{text-align:left}.heat td{min-width:3.2rem}
code{background:#f3f4f8;padding:0 .2rem}
"""


def _heat_colour(z: float) -> str:
    """Diverging scale: blue below the population, red above, white at 0 (clipped at ±3)."""
    t = max(-1.0, min(1.0, z / 3.0))
    if t >= 0:
        r, g, b = 255, int(255 - 170 * t), int(255 - 190 * t)
    else:
        r, g, b = int(255 + 190 * t), int(255 + 120 * t), 255
    return f"#{r:02x}{g:02x}{b:02x}"


def _silhouette_svg(points: list[tuple[int, float]]) -> str:
    if not points:
        return "<p>No silhouette: this model was not chosen by k-means over a range of k.</p>"
    w, h, pad = 520, 220, 36
    best = max(points, key=lambda p: p[1])[0]
    lo = min(0.0, min(s for _, s in points))
    hi = max(1e-9, max(s for _, s in points))
    bw = (w - 2 * pad) / len(points)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             'role="img" aria-label="silhouette per k">',
             f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#889"/>']
    for i, (k, s) in enumerate(points):
        y0 = h - pad - (h - 2 * pad) * (0 - lo) / (hi - lo)
        y1 = h - pad - (h - 2 * pad) * (s - lo) / (hi - lo)
        top, height = min(y0, y1), abs(y1 - y0)
        x = pad + i * bw + bw * 0.15
        fill = "#2e7d32" if k == best else "#7e8bb0"
        parts.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{bw * 0.7:.1f}" '
                     f'height="{max(height, 1):.1f}" fill="{fill}"><title>k={k}: {s:.3f}</title>'
                     "</rect>")
        parts.append(f'<text x="{x + bw * 0.35:.1f}" y="{h - pad + 16}" font-size="12" '
                     f'text-anchor="middle">k={k}</text>')
        parts.append(f'<text x="{x + bw * 0.35:.1f}" y="{top - 4:.1f}" font-size="11" '
                     f'text-anchor="middle">{s:.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _sizes_svg(rows: list[tuple[str, int, float]]) -> str:
    w, bar = 520, 22
    h = bar * len(rows) + 10
    top = max((p for _, _, p in rows), default=1.0) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             'role="img" aria-label="class sizes">']
    for i, (name, size, pct) in enumerate(rows):
        y = 5 + i * bar
        length = (w - 260) * pct / top
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(name)}</text>')
        parts.append(f'<rect x="170" y="{y + 3}" width="{length:.1f}" height="{bar - 6}" '
                     'fill="#5c6bc0"/>')
        parts.append(f'<text x="{175 + length:.1f}" y="{y + 15}" font-size="12">'
                     f"{size} ({pct:.1f}%)</text>")
    parts.append("</svg>")
    return "".join(parts)


def render_report(model: Model) -> str:
    """The whole HTML page for ``model``."""
    a = model.artifact
    rep = a.report
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>intentgate model {escape(a.version)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Segments of model <code>{escape(a.version)}</code></h1>",
        f"<p>Created {escape(a.created_at)} from <b>{escape(rep.data_source or 'unknown')}</b>: "
        f"{rep.rows} sessions, algorithm <code>{escape(rep.algorithm)}</code>, "
        f"{model.k} classes, seed {rep.random_state}.</p>",
    ]
    if rep.fallback:
        out.append('<p class="fallback">FALLBACK MODEL: there was too little data to cluster; '
                   "the classes are a quantile split of one signal, not discovered segments.</p>")
    if rep.noise_rows:
        out.append(f"<p>{rep.noise_rows} noise sessions were left unclassified (DBSCAN).</p>")
    if rep.missing_signals:
        out.append('<p class="warn">Signals missing from the data: '
                   + ", ".join(f"<code>{escape(s)}</code>" for s in rep.missing_signals)
                   + ". They cannot separate classes in this model.</p>")
    for w in rep.warnings:
        out.append(f'<p class="warn">Warning: {escape(w)}</p>')

    out.append("<h2>Choosing k: silhouette per k</h2>")
    out.append(_silhouette_svg([(s.k, s.silhouette) for s in rep.silhouette_by_k]))

    out.append("<h2>Class sizes</h2>")
    out.append(_sizes_svg([(c.display_name, c.size, c.percentage) for c in a.classes]))

    out.append("<h2>Segment cards</h2><div class=cards>")
    for c in a.classes:
        out.append(f'<div class=card id="{escape(c.slug)}"><h3>{escape(c.display_name)}</h3>')
        out.append(f"<div class=slug>{escape(c.slug)} · {c.size} sessions "
                   f"({c.percentage:.1f}%)</div><p>{escape(c.description)}</p>")
        if c.characteristics:
            out.append("<table><tr><th class=l>signal</th><th>importance</th><th>class</th>"
                       "<th>everyone</th><th>z</th></tr>")
            for ch in c.characteristics:
                out.append(f"<tr><td class=l>{escape(ch.signal)}</td><td>{ch.importance:.2f}</td>"
                           f"<td>{ch.value:.3g}</td><td>{ch.population_value:.3g}</td>"
                           f"<td>{ch.z:+.2f}</td></tr>")
            out.append("</table>")
        if c.rules:
            out.append("<p><b>Rules</b></p><ul>")
            for r in c.rules:
                out.append(f"<li><code>{escape(r.text)}</code> — fidelity {r.fidelity:.0%}, "
                           f"precision {r.precision:.0%}, recall {r.recall:.0%}</li>")
            out.append("</ul>")
        if c.suggested_use:
            out.append(f"<p><b>Suggested use:</b> {escape(c.suggested_use)}</p>")
        if c.persistence is not None:
            # A class sessions pass through (quick visits that grow) holds far less often.
            out.append(f"<p>Kept at the next request in {c.persistence:.0%} of its training "
                       "states.</p>")
        out.append("</div>")
    out.append("</div>")

    out.append("<h2>Centroid profiles (standard units; red above everyone, blue below)</h2>")
    out.append("<table class=heat><tr><th class=l>signal</th>"
               + "".join(f"<th>{escape(s)}</th>" for s in model.slugs) + "</tr>")
    for f, name in enumerate(model.feature_names):
        cells = "".join(
            f'<td style="background:{_heat_colour(float(model.centroids[c, f]))}">'
            f"{float(model.centroids[c, f]):+.2f}</td>"
            for c in range(model.k)
        )
        out.append(f"<tr><td class=l>{escape(name)}</td>{cells}</tr>")
    out.append("</table>")

    if rep.notes:
        out.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in rep.notes)
                   + "</ul>")
    out.append("</body></html>\n")
    return "\n".join(out)
