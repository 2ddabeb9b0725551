"""The launchpad's linking settings reach the linker's rules."""

from watershop_dagster.core.till.linking import LinkRules
from watershop_dagster.defs.insights import LinkConfig


def test_the_defaults_are_the_rules_and_each_setting_acts():
    assert LinkConfig().rules() == LinkRules()
    changed = {"tolerance_s": 30.0, "ambiguous_below": 0.3, "pay_to_exit_s": 25.0, "estimate_clock": False,
               "min_clock_confidence": 0.8, "weight_till_named": 0.0, "weight_pace": 0.0, "min_clock_sales": 5,
               "walk_to_counter_s": 6.0}  # fmt: skip
    rules = LinkConfig(**changed).rules()
    assert {k: getattr(rules, k) for k in changed} == changed
