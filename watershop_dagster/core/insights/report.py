"""One self-contained HTML page per report: KPIs, tables and the charts inline, readable on a phone."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

import pandas as pd

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f5f7fa;color:#1d2733}
header{background:#0b5cad;color:#fff;padding:14px 16px}\
header h1{margin:0;font-size:1.25rem}header p{margin:4px 0 0;opacity:.85}
main{max-width:980px;margin:0 auto;padding:12px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px}
.kpi{background:#fff;border-radius:10px;padding:10px 12px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.kpi .v{font-size:1.5rem;font-weight:700}.kpi .l{font-size:.8rem;color:#5b6775}
section{background:#fff;border-radius:10px;padding:10px 12px;margin-top:12px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:1.05rem;margin:4px 0 8px}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:10px}figure{margin:0}
img{width:100%;height:auto}.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{padding:4px 6px;border-bottom:1px solid #e3e8ee;text-align:left;white-space:nowrap}th{background:#f0f3f7}
.crop{width:48px;height:48px;object-fit:cover;border-radius:6px}.warn{color:#b3261e;font-weight:600}
"""


@dataclass
class Report:
    title: str
    subtitle: str
    kpis: list[tuple[str, str]] = field(default_factory=list)
    charts: dict[str, bytes] = field(default_factory=dict)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _img(png: bytes, alt: str, cls: str = "") -> str:
    return f'<img class="{cls}" alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(df: pd.DataFrame, crops: dict[str, bytes] | None = None) -> str:
    if df.empty:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, row):
            if c == "photo" and crops and isinstance(v, str) and v in crops:
                cells.append(f"<td>{_jpeg(crops[v])}</td>")
            else:
                cells.append(f"<td>{html.escape(_fmt(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _jpeg(data: bytes) -> str:
    return f'<img class="crop" alt="face" src="data:image/jpeg;base64,{base64.b64encode(data).decode()}">'


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:,.2f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:,.0f}"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M")
    return str(v)


def render_html(report: Report, crops: dict[str, bytes] | None = None) -> str:
    kpis = "".join(
        f'<div class="kpi" data-kpi="{html.escape(label)}">'
        f'<div class="v">{html.escape(value)}</div><div class="l">{html.escape(label)}</div></div>'
        for label, value in report.kpis
    )
    charts = "".join(f"<figure>{_img(png, name.replace('_', ' '))}</figure>" for name, png in report.charts.items())
    tables = "".join(
        f"<section><h2>{html.escape(title)}</h2>{_table(df, crops)}</section>" for title, df in report.tables
    )
    notes = "".join(f'<p class="warn">{html.escape(n)}</p>' for n in report.notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(report.title)}</title><style>{CSS}</style></head>
<body><header><h1>{html.escape(report.title)}</h1><p>{html.escape(report.subtitle)}</p></header>
<main><div class="kpis">{kpis}</div>{f"<section>{notes}</section>" if notes else ""}
<section><h2>Charts</h2><div class="charts">{charts}</div></section>{tables}</main></body></html>
"""
