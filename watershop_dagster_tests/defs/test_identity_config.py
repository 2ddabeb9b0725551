"""The launchpad's identity settings reach the identity stage's rules."""

from watershop_dagster.core.identities.matching import IdentityRules
from watershop_dagster.defs.vision import IdentityConfig


def test_the_defaults_are_the_rules_and_each_setting_acts():
    assert IdentityConfig().rules() == IdentityRules()
    changed = {"match_threshold": 0.35, "cluster_threshold": 0.45, "staff_threshold": 0.4, "min_usable_faces": 3,
               "same_clothes_min_similarity": 1.1, "same_clothes_max_colour": 2.0,
               "same_clothes_max_lightness": 12.0, "weak_match_threshold": 0.5, "single_face_match_threshold": 0.6,
               "mutual_match_threshold": 1.1, "standout_match_threshold": 1.2, "standout_margin": 0.2}  # fmt: skip
    rules = IdentityConfig(**changed).rules()
    assert {k: getattr(rules, k) for k in changed} == changed
