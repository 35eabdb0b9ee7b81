"""The systemd notify protocol (SPEC 1, issue 7): READY=1 only once
logged in with the roster loaded, WATCHDOG=1 at half of WATCHDOG_USEC,
RELOADING=1 and STOPPING=1."""
import signal
import time

import pytest

import harness


@pytest.mark.core
def test_ready_after_login_and_watchdog_keeps_coming(prosody, tmp_path):
    b = harness.Bot(prosody, tmp_path)
    b.start(wait_ready=False, env={"WATCHDOG_USEC": "1000000"})
    try:
        b.wait_notify("READY=1")
        # READY=1 came after the login and the roster, not before.
        assert "contacts in the roster" in b.read_log()
        n = b.notifications.count("WATCHDOG=1")
        deadline = time.time() + 3
        while time.time() < deadline:
            try:
                b.wait_notify("__never__", timeout=0.3)
            except RuntimeError:
                pass
        # Every 0.5 s: about six in three seconds.
        assert b.notifications.count("WATCHDOG=1") - n >= 4
        b.signal(signal.SIGHUP)
        b.wait_notify("RELOADING=1")
    finally:
        b.signal(signal.SIGTERM)
        b.wait_notify("STOPPING=1", timeout=10)
        assert b.stop() == 0


def test_no_ready_without_login(prosody, tmp_path):
    b = harness.Bot(prosody, tmp_path, password="not-the-password")
    b.start(wait_ready=False)
    try:
        assert b.proc.wait(30) == 1
        try:
            b.wait_notify("READY=1", timeout=0.5)
            ready = True
        except RuntimeError:
            ready = False
        assert not ready
    finally:
        b.stop()
