from aldesk.core.stopping import latest_estimate, stopping_advice


def _m(gain, kappa):
    return {"gain_per_100": gain, "kappa_previous": kappa}


def test_advises_stopping_only_when_both_gain_and_agreement_say_so():
    rule = dict(gain_threshold=0.5, kappa_min=0.99)
    assert stopping_advice([_m(0.1, 0.995)] * 3, **rule)["stop"]
    still_gaining = stopping_advice([_m(2.0, 0.995)] * 3, **rule)
    assert not still_gaining["stop"] and "+2.0 points" in still_gaining["reason"]
    unstable = stopping_advice([_m(0.1, 0.995), _m(0.1, 0.95), _m(0.1, 0.995)], **rule)
    assert not unstable["stop"] and "kappa" in unstable["reason"]
    too_few = stopping_advice([_m(0.1, 0.995)] * 2, **rule)
    assert not too_few["stop"] and too_few["kappa"] is None
    no_gain = stopping_advice([_m(None, 0.995)] * 3, **rule)
    assert not no_gain["stop"] and "audit labels" in no_gain["reason"]
    assert not stopping_advice([], **rule)["stop"]


def test_the_estimate_is_the_latest_models_or_null():
    assert latest_estimate([]) == {"value": None, "low": None, "high": None, "audit_labels": 0}
    estimate = {"value": 0.8, "low": 0.7, "high": 0.88, "audit_labels": 40, "level": 0.9}
    assert latest_estimate([{"estimate": estimate}])["value"] == 0.8
    # a newer model without an estimate: the older model's estimate does not describe it
    assert latest_estimate([{"estimate": estimate}, {}])["value"] is None
