"""Trend charts: a PNG (matplotlib, one line per group, labelled axes) for `veille trends --png`, and
an inline SVG bar chart for the entity and tag pages (no script, no external file; its text escaped).

    write_png(path, ["2025-01", "2025-02"], {"fr": [3, 5], "en": [1, 0]}, title="entity:palantir", unit="articles per month")
    svg = bars_svg(["2025-01", "2025-02"], [3, 5], unit="articles per month")
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr


def write_png(path: Path, labels: list[str], series: dict[str, list[int]], *, title: str, unit: str) -> None:
    """The chart as a PNG at `path` (written beside, then moved into place)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    from matplotlib import pyplot
    from matplotlib.ticker import MaxNLocator

    figure, axes = pyplot.subplots(figsize=(10, 4.5), dpi=100)
    try:
        positions = list(range(len(labels)))
        for name, counts in series.items():
            axes.plot(positions, counts, marker="o" if len(labels) <= 40 else None, label=name)
        step = max(1, len(labels) // 12)
        axes.set_xticks(positions[::step], labels[::step], rotation=30, ha="right")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylim(bottom=0)
        axes.set_xlabel(unit.split(" per ")[-1] if " per " in unit else "interval")
        axes.set_ylabel(unit)
        axes.set_title(title[:120])
        axes.grid(True, alpha=0.3)
        if len(series) > 1 or "all" not in series:
            axes.legend(loc="upper left", fontsize="small")
        figure.tight_layout()
        partial = path.with_name(path.name + ".tmp")
        figure.savefig(partial, format="png")
        partial.replace(path)
    finally:
        pyplot.close(figure)


def bars_svg(labels: list[str], counts: list[int], *, unit: str, width: int = 640, height: int = 160) -> str:
    """A bar per interval, its count in its tooltip; the first and last labels under the axis."""
    top = max(counts, default=0) or 1
    slot = width / max(1, len(counts))
    bars = []
    for n, (label, count) in enumerate(zip(labels, counts)):
        tall = (height - 30) * count / top
        bars.append(f'<rect x="{n * slot + slot * 0.1:.1f}" y="{height - 20 - tall:.1f}" width="{slot * 0.8:.1f}" '
                    f'height="{tall:.1f}"><title>{escape(label)}: {count}</title></rect>')
    ends = ""
    if labels:
        ends = (f'<text x="0" y="{height - 4}">{escape(labels[0])}</text>'
                f'<text x="{width}" y="{height - 4}" text-anchor="end">{escape(labels[-1])}</text>')
    summary = f"{unit}: " + ", ".join(f"{label} {count}" for label, count in zip(labels, counts))
    return (f'<svg class="trend" role="img" aria-label={quoteattr(summary)} viewBox="0 0 {width} {height}" '
            f'xmlns="http://www.w3.org/2000/svg"><text x="0" y="10">{top} {escape(unit)} at most</text>'
            f'<line x1="0" y1="{height - 20}" x2="{width}" y2="{height - 20}"/>{"".join(bars)}{ends}</svg>')
