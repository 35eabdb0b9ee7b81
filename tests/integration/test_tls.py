"""The server certificate is always verified (SPEC 2)."""
import os

import harness


def test_login_with_verified_tls(bot):
    log = bot.read_log()
    assert "logged in as bot@localhost/starling" in log
    assert "READY=1" in bot.notifications


def test_certificate_from_another_ca_is_refused(prosody, tmp_path):
    other = harness.make_ca(os.path.join(str(tmp_path), "other"), "Other_CA")
    b = harness.Bot(prosody, tmp_path, ca_file=other[1])
    b.start(wait_ready=False)
    try:
        try:
            b.wait_notify("READY=1", timeout=4)
            ready = True
        except RuntimeError:
            ready = False
        assert not ready
        log = b.read_log()
        assert "TLS certificate of localhost not trusted" in log
        assert "logged in" not in log
    finally:
        b.stop()
