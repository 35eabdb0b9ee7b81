"""Stopping by signal (SPEC 1): SIGTERM and SIGINT stop cleanly with exit
0, and contacts see the bot go unavailable."""
import signal

import pytest

import harness


def stop_by(sig, prosody, tmp_path, clients):
    b = harness.Bot(prosody, tmp_path).start()
    alice = harness.join(prosody, "alice")
    clients.append(alice)
    alice.wait_online(timeout=10)
    b.signal(sig)
    assert b.proc.wait(15) == 0
    alice.wait_online(online=False, timeout=5)
    log = b.read_log()
    b.stop()
    assert "stopped" in log
    return b


@pytest.mark.core
def test_sigterm_exits_0_and_goes_unavailable(prosody, tmp_path, clients):
    stop_by(signal.SIGTERM, prosody, tmp_path, clients)


def test_sigint_exits_0_and_goes_unavailable(prosody, tmp_path, clients):
    b = stop_by(signal.SIGINT, prosody, tmp_path, clients)
    # The database was closed properly: the bot starts again on it and
    # still knows alice.
    b.start()
    try:
        alice = harness.Client(prosody, "alice", create=False).connect()
        clients.append(alice)
        assert "Commands" in alice.ask("help", "Commands")
    finally:
        assert b.stop() == 0
