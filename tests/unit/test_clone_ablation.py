"""bench.clone_ablation's profile variants: each changes only what it names, and never the profile it is given."""
import copy

import pytest

from bench.clone_ablation import DEFAULT_VARIANTS, VARIANTS, proxy_tracking, variant

PROFILE = {"method": "kokoro-style", "style": {"voices": ["af_nova"]}, "styleOffset": [0.5, -1.0],
           "spectralMatch": {"gainsDb": [1.0]}, "exemplarMatch": {"mix": 0.6, "codebook": {"topHz": 3600}}}


def test_the_shipped_variant_is_the_profile_itself():
    assert variant(PROFILE, VARIANTS["shipped"]) == PROFILE


def test_an_offset_variant_scales_the_style_offset_and_nothing_else():
    out = variant(PROFILE, VARIANTS["offset x1.5"])
    assert out["styleOffset"] == pytest.approx([0.75, -1.5])
    assert {k: v for k, v in out.items() if k != "styleOffset"} == \
        {k: v for k, v in PROFILE.items() if k != "styleOffset"}
    assert variant(PROFILE, VARIANTS["no offset"])["styleOffset"] == [0.0, -0.0]


def test_drop_variants_remove_the_eq_and_the_exemplar_step():
    assert "spectralMatch" not in variant(PROFILE, VARIANTS["no EQ"])
    assert "exemplarMatch" in variant(PROFILE, VARIANTS["no EQ"])
    both = variant(PROFILE, VARIANTS["no EQ or exemplars"])
    assert "spectralMatch" not in both and "exemplarMatch" not in both and both["styleOffset"] == [0.5, -1.0]


def test_a_mix_variant_sets_the_exemplar_mix_and_keeps_the_codebook_without_touching_the_input():
    before = copy.deepcopy(PROFILE)
    out = variant(PROFILE, VARIANTS["offset x1.5 + mix 0.7"])
    assert out["exemplarMatch"] == {"mix": 0.7, "codebook": {"topHz": 3600}}
    assert out["styleOffset"] == pytest.approx([0.75, -1.5])
    assert PROFILE == before


def test_a_profile_without_the_part_is_left_as_it_is():
    bare = {"method": "kokoro-style", "style": {}}
    for change in VARIANTS.values():
        assert variant(bare, change) == bare


def test_the_default_variants_are_known_names():
    assert set(DEFAULT_VARIANTS) <= set(VARIANTS)


def row(shipped: tuple[float, float], none: tuple[float, float] | None) -> dict:
    """A saved run's speaker: (held-out OVRL, proxy OVRL) per variant."""
    variants = {"shipped": {"ovrl": shipped[0], "proxy": {"ovrl": shipped[1]}}}
    if none is not None:
        variants["no offset"] = {"ovrl": none[0], "proxy": {"ovrl": none[1]}}
    return {"variants": variants}


def test_proxy_tracking_correlates_the_change_s_effect_on_the_proxy_with_its_effect_held_out():
    rows = [row((3.0, 3.2), (3.3, 3.4)), row((3.3, 3.3), (3.45, 3.35)), row((3.4, 3.3), (3.3, 3.2)),
            row((3.2, 3.2), None)]  # the last has no such variant: left out
    n, r = proxy_tracking(rows, "no offset")
    assert n == 3 and r == pytest.approx(0.9897, abs=1e-3)  # (proxy, held-out): (0.2, 0.3), (0.05, 0.15), (-0.1, -0.1)
    flipped = [row((3.0, 3.4), (3.3, 3.2)), row((3.3, 3.3), (3.4, 3.3)), row((3.4, 3.2), (3.3, 3.3))]
    assert proxy_tracking(flipped, "no offset")[1] < 0


def test_proxy_tracking_says_nothing_on_too_few_speakers_or_no_spread():
    assert proxy_tracking([row((3.0, 3.2), (3.3, 3.4))] * 2, "no offset") == (2, None)
    assert proxy_tracking([row((3.0, 3.2), (3.3, 3.2))] * 3, "no offset") == (3, None)
