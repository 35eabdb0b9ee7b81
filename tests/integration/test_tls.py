"""Logging in over verified TLS (SPEC 1 and 2): the server certificate is
always checked against the configured CA, never skipped."""
import os
import time

import pytest

import harness


@pytest.mark.core
def test_login_with_verified_tls(bot, user):
    log = bot.read_log()
    assert "logged in as bot@localhost/starling" in log
    assert "READY=1" in bot.notifications
    # A subscribed contact sees the bot available, with its status.
    alice = user("alice")
    alice.wait_online(timeout=10)
    assert alice.online() == ["starling"]


@pytest.mark.core
def test_certificate_from_another_ca_is_refused(prosody, tmp_path):
    other = harness.make_ca(os.path.join(str(tmp_path), "other"), "Other_CA")
    b = harness.Bot(prosody, tmp_path, ca_file=other[1])
    b.start(wait_ready=False)
    try:
        deadline = time.time() + 10
        while "not trusted" not in b.read_log() and time.time() < deadline:
            time.sleep(0.05)
        try:
            b.wait_notify("READY=1", timeout=1.5)  # the retry 1 s later too
            ready = True
        except RuntimeError:
            ready = False
        assert not ready
        log = b.read_log()
        assert "TLS certificate of localhost not trusted" in log
        assert "logged in" not in log
        # Refused for good: it retries, but never without verification.
        assert b.proc.poll() is None
    finally:
        b.stop()
