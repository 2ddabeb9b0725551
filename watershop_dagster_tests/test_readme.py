from watershop_dagster.docs import README, render


def test_readme_generated_sections_match_the_code():
    assert render(README.read_text()) == README.read_text(), "run: .venv/bin/python -m watershop_dagster.docs"
