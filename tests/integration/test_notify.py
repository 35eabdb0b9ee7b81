"""The systemd notify protocol (SPEC 1, issue 7): READY=1 only once
logged in with the roster loaded (a reload before that does not send it),
WATCHDOG=1 at half of WATCHDOG_USEC, RELOADING=1 and STOPPING=1."""
import signal
import socket
import time

import pytest

import harness


def listen(b, seconds):
    """Read notifications for that long (they pile up in b.notifications)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            b.wait_notify("__never__", timeout=min(0.3, max(0.01, deadline - time.time())))
        except RuntimeError:
            pass


def read_now(b):
    """Read the notifications already sent, without waiting."""
    b.sock.settimeout(0)
    while True:
        try:
            b.notifications.append(b.sock.recv(4096).decode())
        except (BlockingIOError, socket.timeout):
            return


def wait_log(b, text, timeout=20):
    deadline = time.time() + timeout
    while text not in b.read_log():
        assert time.time() < deadline, "no %r in the log" % text
        time.sleep(0.05)


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


def watchdogs_under_load(prosody, tmp_path, clients, usec):
    """WATCHDOG=1 sent in six seconds while pings wake the loop at all
    sorts of instants, many times a second."""
    b = harness.Bot(prosody, tmp_path, name="starling-" + usec)
    b.start(env={"WATCHDOG_USEC": usec})
    try:
        alice = harness.Client(prosody, "alice").connect()
        clients.append(alice)
        n = b.notifications.count("WATCHDOG=1")
        deadline, i = time.time() + 6, 0
        while time.time() < deadline:
            alice.send_raw("<iq type='get' to='%s/starling' id='wd%d'>"
                           "<ping xmlns='urn:xmpp:ping'/></iq>" % (harness.BOT, i))
            i += 1
            time.sleep(0.02)
            read_now(b)
        assert alice.iq("ping") is not None
        read_now(b)
        return b.notifications.count("WATCHDOG=1") - n
    finally:
        assert b.stop() == 0


# A negative nanosecond difference read as a huge one sent WATCHDOG=1 at
# wake-ups just after a second boundary, whatever the interval.
def test_watchdog_at_half_the_interval(prosody, tmp_path, clients):
    # WatchdogSec=4: every 2 s, about three in six seconds.
    got = watchdogs_under_load(prosody, tmp_path, clients, "4000000")
    assert 2 <= got <= 4, got
    # WatchdogSec=30: the first at start, then none for 15 s.
    got = watchdogs_under_load(prosody, tmp_path, clients, "30000000")
    assert got == 0, got


def test_reload_before_login_is_not_ready(prosody, tmp_path):
    prosody.stop()
    b = harness.Bot(prosody, tmp_path)
    b.start(wait_ready=False)
    try:
        wait_log(b, "started for")  # signal handlers are in place
        b.signal(signal.SIGHUP)
        b.wait_notify("RELOADING=1")
        listen(b, 1.5)
        assert "READY=1" not in b.notifications
        # The server comes: READY=1 once logged in, and again after a
        # reload now that it has been ready.
        prosody.start()
        b.wait_notify("READY=1", timeout=90)
        assert b.notifications.count("READY=1") == 1
        b.signal(signal.SIGHUP)
        deadline = time.time() + 20
        while b.notifications.count("READY=1") < 2:
            assert time.time() < deadline, b.notifications
            listen(b, 0.3)
        assert b.notifications.count("RELOADING=1") == 2
    finally:
        assert b.stop() == 0
