"""Plots for the HTML reports, inlined as SVG: a requirement's declared measurements (value
with its U bar against the limits, one point per test point: the error-vs-load-point plot of
a meter's accuracy test), latency histograms and clock offset over time (the `observation`
records whose value carries "plot": "latency-histogram" / "clock-offset", hilbench.timing
and suites/timing).

Reports are a pure function of the evidence and `hilbench verify` compares a bundle's HTML
with its re-derivation byte for byte, so the SVG must be too: matplotlib (pinned exactly in
pyproject.toml: another version draws other bytes) through the object API, no pyplot state,
no date or creator in the file, the id salt fixed, text kept as text (no embedded glyphs),
mathtext off (a `$` in a device's string stays a `$`). Ids are prefixed per figure so two
plots on one page never share one. Text in the SVG is XML-escaped by matplotlib; the figure
is inserted unescaped by the template (`|safe`) for that reason only.
"""

from __future__ import annotations

import io
import math
import re
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Sequence

PASS_COLOUR, FAIL_COLOUR, CONDITIONAL_COLOUR, LIMIT_COLOUR = "#1a7f37", "#cf222e", "#bf8700", "#57606a"
_RC: dict[Any, Any] = {"svg.hashsalt": "hilbench", "svg.fonttype": "none", "text.parse_math": False,
       "font.size": 8.0, "axes.titlesize": 9.0, "figure.dpi": 72.0}
_ID = re.compile(r'\bid="([^"]+)"')
MAX_POINTS = 200  # a plot of more test points than this is not read by anyone: the table is


def _figure(width_in: float = 6.4, height_in: float = 2.6) -> Any:
    from matplotlib.figure import Figure  # noqa: PLC0415  (0.9 s import: only when plotting)

    return Figure(figsize=(width_in, height_in), layout="constrained")


def _svg(figure: Any, prefix: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]  # the XML declaration and DOCTYPE do not belong inline
    for name in sorted(set(_ID.findall(text)), key=len, reverse=True):
        text = text.replace(f'id="{name}"', f'id="{prefix}-{name}"')
        text = text.replace(f"url(#{name})", f"url(#{prefix}-{name})")
        text = text.replace(f'href="#{name}"', f'href="#{prefix}-{name}"')
    return text


def _colour(verdict: str | None) -> str:
    return {"pass": PASS_COLOUR, "fail": FAIL_COLOUR}.get(verdict or "", CONDITIONAL_COLOUR)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _common_prefix(names: Sequence[str]) -> str:
    prefix = names[0]
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    return prefix[:prefix.rfind(" ") + 1] if " " in prefix else ""


def measurements_plot(measurements: Sequence[Mapping[str, Any]], prefix: str) -> str | None:
    """Value ± U per measurement (coloured by verdict) against its limits; None unless there
    are two or more measurements of one quantity and unit with finite values."""
    points = [m for m in measurements if _finite(m.get("value"))
              and _finite(m.get("expanded_uncertainty"))]
    if len(points) < 2 or len(points) > MAX_POINTS or \
            len({(m.get("quantity"), m.get("unit")) for m in points}) != 1:
        return None
    with _matplotlib():
        figure = _figure(6.4, 2.8)
        axes = figure.add_subplot()
        names = [str(m.get("name") or m.get("seq")) for m in points]
        cut = len(_common_prefix(names)) if len(names) > 1 else 0
        xs = list(range(len(points)))
        for x, m in zip(xs, points):
            axes.errorbar([x], [m["value"]], yerr=[m["expanded_uncertainty"]], fmt="o",
                          markersize=4, capsize=3, color=_colour(m.get("verdict")))
            limits = m.get("limits") or {}
            for bound in (limits.get("lower"), limits.get("upper")):
                if _finite(bound):
                    axes.hlines(bound, x - 0.4, x + 0.4, colors=LIMIT_COLOUR, linewidths=1.2)
        axes.axhline(0.0, color="#d0d7de", linewidth=0.8, zorder=0)
        axes.set_xticks(xs, [n[cut:] for n in names], rotation=45, ha="right")
        symbol = points[0].get("unit_symbol") or ""
        axes.set_ylabel(f"{points[0].get('quantity') or 'value'}" + (f" ({symbol})" if symbol else ""),
                        wrap=True)
        axes.set_title("value ± U (k = 2) per test point; grey bars: the limits")
        return _svg(figure, prefix)


def latency_plot(data: Mapping[str, Any], prefix: str) -> str | None:
    """The histograms of request end → first and → last answer byte (ms, log scale), with
    their p50 and p99; None if the data is not a latency histogram with counts."""
    series = []
    for key, label in (("to_first_byte", "to first answer byte"),
                       ("to_last_byte", "to last answer byte")):
        histogram = data.get(key)
        if not isinstance(histogram, Mapping):
            continue
        buckets = [(b[0], b[1]) for b in histogram.get("buckets") or []
                   if isinstance(b, list) and len(b) == 2 and all(_finite(v) for v in b) and b[0] > 0]
        if buckets:
            series.append((label, sorted(buckets)[:MAX_POINTS * 10], histogram.get("summary") or {}))
    if not series:
        return None
    with _matplotlib():
        figure = _figure()
        axes = figure.add_subplot()
        for (label, buckets, summary), colour in zip(series, ("#0969da", "#8250df")):
            # One line per non-empty bucket at its lower bound: the journal keeps only those.
            axes.vlines([b[0] / 1e6 for b in buckets], 0, [b[1] for b in buckets],
                        label=label, color=colour, linewidth=2.0, alpha=0.75)
            for quantile, style in (("p50_ns", "--"), ("p99_ns", ":")):
                if _finite(summary.get(quantile)):
                    axes.axvline(summary[quantile] / 1e6, color=colour, linestyle=style,
                                 linewidth=0.9)
        axes.set_xscale("log")
        _plain_ticks(axes.xaxis)
        axes.set_xlabel("latency (ms); dashed: p50, dotted: p99")
        axes.set_ylabel("exchanges")
        axes.set_title(f"latency: {data.get('what') or ''}")
        axes.legend(loc="upper right", frameon=False)
        return _svg(figure, prefix)


def clock_offset_plot(data: Mapping[str, Any], prefix: str) -> str | None:
    """The DUT's clock minus the host's over the window, each reading with ±2u of its
    placement in host time; None without two readings."""
    readings = [r for r in data.get("readings") or [] if isinstance(r, Mapping)
                and _finite(r.get("host_monotonic_ns")) and _finite(r.get("offset_s"))
                and _finite(r.get("u_s"))][:MAX_POINTS]
    if len(readings) < 2:
        return None
    with _matplotlib():
        figure = _figure()
        axes = figure.add_subplot()
        start = readings[0]["host_monotonic_ns"]
        first = readings[0]["offset_s"]
        axes.errorbar([(r["host_monotonic_ns"] - start) / 1e9 for r in readings],
                      [(r["offset_s"] - first) * 1e3 for r in readings],
                      yerr=[2e3 * r["u_s"] for r in readings], fmt="o-", markersize=3,
                      capsize=2, color="#0969da", linewidth=0.9)
        axes.set_xlabel("time since the first reading (s)")
        axes.set_ylabel("offset change (ms)")
        axes.set_title(f"DUT clock minus host clock, from {first:+.3f} s at the first reading "
                       "(bars: ±2u)")
        return _svg(figure, prefix)


def _plain_ticks(axis: Any) -> None:
    """Tick labels as plain numbers: the log scale's default labels are mathtext, which the
    reports keep off."""
    from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: PLC0415

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


PLOT_KINDS = {"latency-histogram": latency_plot, "clock-offset": clock_offset_plot}


@contextmanager
def _matplotlib() -> Iterator[None]:
    """The rc settings that make the SVG deterministic, for the whole drawing (font sizes
    are read when an artist is made, the id salt when the file is written)."""
    import matplotlib  # noqa: PLC0415

    with matplotlib.rc_context(_RC):
        yield


def requirement_figures(requirement: Mapping[str, Any], records: Mapping[int, Any]
                        ) -> list[dict[str, str]]:
    """The figures of one requirement entry (hilbench_reports.model.requirement_entry):
    its measurements' plot, then one per plot-data observation among its evidence.
    `records`: the run's records by seq. Each figure: {"svg", "caption"}."""
    slug = "".join(c if c.isalnum() else "-" for c in str(requirement.get("id")))
    figures: list[dict[str, str]] = []
    svg = measurements_plot(requirement.get("measurements") or [], f"fig-{slug}-m")
    if svg:
        figures.append({"svg": svg, "caption": "Measurements of this requirement (table above)"})
    for evidence in requirement.get("evidence") or []:
        record = records.get(evidence["seq"])
        if record is None or record.type != "observation":
            continue
        value = record.data.get("value")
        if not isinstance(value, Mapping) or value.get("plot") not in PLOT_KINDS:
            continue
        svg = PLOT_KINDS[value["plot"]](value, f"fig-{slug}-{record.seq}")
        if svg:
            figures.append({"svg": svg, "caption": f"{record.data.get('name')} "
                                                   f"(record #{record.seq})"})
    return figures
