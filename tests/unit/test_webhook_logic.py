"""Webhook rules (service_layer/webhook_logic.py): the signature a receiver checks, the retry schedule, and the
addresses deliveries never go to."""
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest

from service_layer import webhook_logic as wh

SECRET = "whsec_test"
BODY = b'{"name":"speech.completed","id":"e1"}'


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert wh.signature(SECRET, 1700000000, BODY) == "v1=" + expected


def test_a_receiver_accepts_a_fresh_signature_and_refuses_tampering_replay_and_other_secrets():
    header = wh.signature(SECRET, 1700000000, BODY)
    assert wh.verify(SECRET, "1700000000", header, BODY, now=1700000100)
    assert not wh.verify(SECRET, "1700000000", header, BODY + b" ", now=1700000100)       # body changed
    assert not wh.verify(SECRET, "1700000001", header, BODY, now=1700000100)              # timestamp changed
    assert not wh.verify("whsec_other", "1700000000", header, BODY, now=1700000100)       # another endpoint's
    assert not wh.verify(SECRET, "1700000000", header, BODY, now=1700000000 + wh.TOLERANCE_S + 1)  # too old
    assert not wh.verify(SECRET, "1700000000", header, BODY, now=1700000000 - wh.TOLERANCE_S - 1)  # from the future
    assert not wh.verify(SECRET, None, header, BODY, now=1700000000)
    assert not wh.verify(SECRET, "soon", header, BODY, now=1700000000)
    rotated = "v1=" + "0" * 64 + ", " + header  # several signatures: any one may match
    assert wh.verify(SECRET, "1700000000", rotated, BODY, now=1700000000)


def test_secrets_are_long_random_and_prefixed():
    first, second = wh.new_secret(), wh.new_secret()
    assert first != second and first.startswith("whsec_") and len(first) >= 40


def test_backoff_doubles_up_to_the_cap_with_jitter_and_stops_after_the_last_attempt():
    policy = wh.RetryPolicy(base_s=10, cap_s=300, max_attempts=8)
    assert policy.schedule() == [10, 20, 40, 80, 160, 300, 300]
    assert policy.delay(1, 0.0) == 5 and policy.delay(1, 0.999) == pytest.approx(9.995)
    assert policy.delay(6, 0.5) == 225  # capped at 300, then jittered into [150, 300)
    assert policy.delay(8, 0.5) is None and policy.delay(9, 0.0) is None


def test_a_webhook_is_disabled_only_after_enough_failed_deliveries_in_a_row_over_long_enough():
    policy = wh.DisablePolicy(after_failures=20, after_s=86400)
    since = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    day = timedelta(days=1)
    assert policy.disables(20, since, since + day)
    assert policy.disables(31, since, since + 2 * day)
    assert not policy.disables(19, since, since + 5 * day)                # a quiet receiver: not enough failures
    assert not policy.disables(200, since, since + day - timedelta(seconds=1))   # a burst failed: not long enough
    assert not policy.disables(20, None, since + day)                      # no run of failures recorded
    assert not wh.DisablePolicy(after_failures=0, after_s=0).disables(10_000, since, since + 30 * day)  # 0: never
    assert wh.DisablePolicy(after_failures=3, after_s=0).disables(3, since, since)
    reason = wh.disabled_reason(20, since)
    assert "20 deliveries in a row" in reason and "2026-06-01T12:00:00Z" in reason and "enable" in reason


@pytest.mark.parametrize("status,ok", [(200, True), (204, True), (299, True), (301, False), (410, False),
                                       (500, False), (None, False)])
def test_only_a_2xx_answer_ends_a_delivery(status, ok):
    assert wh.succeeded(status) is ok


@pytest.mark.parametrize("address", ["127.0.0.1", "127.9.9.9", "::1", "10.0.0.5", "172.16.0.1", "192.168.1.1",
                                     "169.254.169.254", "169.254.1.1", "fe80::1%eth0", "fd00:ec2::254", "fc00::1",
                                     "100.64.0.1", "100.100.100.200", "0.0.0.0", "::", "224.0.0.1",
                                     "::ffff:127.0.0.1", "::ffff:10.0.0.1", "240.0.0.1"])
def test_loopback_private_link_local_and_metadata_addresses_are_refused(address):
    assert wh.address_refusal(address) is not None
    with pytest.raises(wh.TargetRefused):
        wh.check_addresses("hooks.example.com", ["93.184.216.34", address], allow_private=False)


def test_public_addresses_pass_and_the_operator_may_allow_private_ones():
    assert wh.address_refusal("93.184.216.34") is None and wh.address_refusal("2606:4700::1111") is None
    assert wh.check_addresses("h", ["93.184.216.34"], allow_private=False) == ["93.184.216.34"]
    assert wh.check_addresses("h", ["127.0.0.1"], allow_private=True) == ["127.0.0.1"]
    with pytest.raises(wh.TargetRefused):
        wh.check_addresses("h", [], allow_private=True)  # an unresolvable host is never a target


@pytest.mark.parametrize("url", ["ftp://example.com/x", "example.com/hook", "https:///nohost", "",
                                 "https://user:pw@example.com/", "https://example.com/#frag",
                                 "https://example.com:99999/", "https://" + "a" * 2050 + ".com/", None])
def test_only_plain_http_urls_are_accepted(url):
    with pytest.raises(wh.TargetRefused):
        wh.parse_url(url)


def test_a_url_s_host_and_default_port():
    assert wh.parse_url("https://Hooks.Example.com/v/1?x=1") == wh.Target("https", "hooks.example.com", 443)
    assert wh.parse_url("http://127.0.0.1:8123/hook") == wh.Target("http", "127.0.0.1", 8123)
    assert wh.parse_url("http://[::1]/hook").host == "::1"


def test_the_example_receiver_checks_signatures_as_the_service_makes_them():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "examples" / "webhook_receiver.py"
    spec = importlib.util.spec_from_file_location("webhook_receiver_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    header = wh.signature(SECRET, 1700000000, BODY)
    assert example.verify(SECRET, "1700000000", header, BODY, now=1700000000)
    assert not example.verify(SECRET, "1700000000", header, BODY + b"x", now=1700000000)
    assert not example.verify(SECRET, "1700000000", header, BODY, now=1700000000 + wh.TOLERANCE_S + 1)
