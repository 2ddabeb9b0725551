import re
import shutil
import subprocess

import pandas as pd
import pytest

from watershop_dagster.core.insights.charts import owner_charts
from watershop_dagster.core.insights.report import Report, render_html

FRAMES = {
    "top_customers": pd.DataFrame({"customer_id": ["CUST_0001", "CUST_0002"], "visits": [5, 3]}),
    "visits_per_hour": pd.DataFrame({"hour": [8, 9, 18], "visits": [4, 2, 5], "transactions": [3, 2, 4]}),
    "daily_trend": pd.DataFrame(
        {"day": pd.to_datetime(["2024-05-01", "2024-05-02"]), "visits": [10, 12], "customers": [6, 7]}
    ),
    "new_vs_returning": pd.DataFrame(
        {"day": pd.to_datetime(["2024-05-01", "2024-05-02"]), "new_customers": [6, 1], "returning_customers": [0, 6]}
    ),
    "spend_per_customer": pd.DataFrame({"customer_id": ["L1", "CUST_0002"], "billed_amount": [120.0, 40.0]}),
    "payment_modes": pd.DataFrame({"payment_mode": ["Cash", "UPI"], "amount": [200.0, 150.0]}),
    "cans_per_day": pd.DataFrame(
        {
            "day": pd.to_datetime(["2024-05-01", "2024-05-01", "2024-05-02"]),
            "can_size": ["10L", "20L", "20L"],
            "cans": [3, 9, 11],
        }
    ),
    "unpaid_trend": pd.DataFrame(
        {"day": pd.to_datetime(["2024-05-01", "2024-05-02"]), "unpaid_amount": [20.0, 0.0], "walkouts": [1, 0]}
    ),
}
CHARTS = [
    "top_customers",
    "visits_per_hour",
    "daily_visit_trend",
    "new_vs_returning",
    "spend_per_customer",
    "payment_modes",
    "cans_per_day",
    "unpaid_over_time",
]


def test_every_chart_is_a_png_even_without_data():
    for frames in (FRAMES, {k: v.iloc[0:0] for k, v in FRAMES.items()}):
        charts = owner_charts(frames)
        assert sorted(charts) == sorted(CHARTS)
        assert all(png.startswith(b"\x89PNG") and len(png) > 2000 for png in charts.values())


def sample_report() -> str:
    report = Report(
        "Daily report — Thu 02 May 2024",
        "test",
        [("Revenue (paid)", "₹1,234"), ("Customer visits", "17")],
        owner_charts(FRAMES),
        [
            (
                "Repeat defaulters (30 days)",
                pd.DataFrame({"customer_id": ["L7"], "amount_owed": [60.0], "photo": ["x.jpg"]}),
            )
        ],
        ["Repeat defaulter: L7 owes ₹60"],
    )
    return render_html(report, {"x.jpg": b"\xff\xd8\xff\xe0fakejpeg"})


def test_report_is_self_contained():
    page = sample_report()
    assert "₹1,234" in page and "Repeat defaulter: L7" in page
    assert len(re.findall(r'src="data:image/png;base64,', page)) == len(CHARTS)
    assert "http://" not in page and "https://" not in page  # nothing to fetch: works offline and on a phone
    assert 'name="viewport"' in page


@pytest.mark.browser
def test_report_opens_in_headless_chromium_with_every_chart_loaded(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    page = tmp_path / "report.html"
    page.write_text(
        sample_report().replace(
            "</body>",
            """<script>
      window.addEventListener('load', () => {
        const imgs = [...document.querySelectorAll('figure img')];
        const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
        document.title = 'charts-loaded:' + ok + '/' + imgs.length;
      });</script></body>""",
        )
    )
    out = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-component-update",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = out.stdout
    assert f"charts-loaded:{len(CHARTS)}/{len(CHARTS)}" in dom, out.stderr[-2000:]
    assert "₹1,234" in dom and "17" in dom
