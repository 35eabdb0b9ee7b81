"""Reconnecting (SPEC 7): when the server goes away the bot retries by
itself with exponential backoff and jitter, and is back once the server
is.  (A graceful server restart is in test_lifecycle.py.)"""
import os
import re
import signal
import time

import pytest

import harness


def answers_help(prosody, timeout):
    """A fresh alice connection gets an answer to "help" within timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = harness.Client(prosody, "alice", create=False).connect()
        try:
            c.send("help")
            c.wait("Commands", timeout=3)
            return True
        except AssertionError:
            pass
        finally:
            c.disconnect()
    return False


@pytest.mark.core
def test_server_killed_backoff_then_back(prosody, bot, user):
    user("alice").disconnect()
    prosody.kill()
    time.sleep(2.5)
    delays = [float(d) for d in
              re.findall(r"reconnecting in ([0-9.]+) s", bot.read_log())]
    # 1 s, then 2 s, ... each plus 0-25 % jitter.
    assert len(delays) >= 2, bot.read_log()
    for i, d in enumerate(delays[:3]):
        assert 2 ** i <= d <= 2 ** i * 1.25 + 0.05, delays
    assert bot.proc.poll() is None
    prosody.start()
    assert answers_help(prosody, 15)
    assert bot.read_log().count("logged in as") == 2


@pytest.mark.skipif(not os.environ.get("STARLING_SLOW"),
                    reason="takes 90 s; set STARLING_SLOW=1")
def test_frozen_server_noticed_by_keepalive(prosody, bot, user):
    # A server that stops answering without closing the TCP connection:
    # only the keep-alive ping (every 60 s, 30 s to answer) notices.
    user("alice").disconnect()
    prosody.proc.send_signal(signal.SIGSTOP)
    try:
        deadline = time.time() + 100
        while "did not answer a ping nor show any other sign of life" not in bot.read_log():
            assert time.time() < deadline, bot.read_log()
            time.sleep(1)
    finally:
        prosody.proc.send_signal(signal.SIGCONT)
    assert answers_help(prosody, 20)
