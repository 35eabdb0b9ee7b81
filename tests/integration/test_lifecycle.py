"""Restarts, secrets and backups (SPEC 1 and 7); signals are in
test_signals.py."""
import signal
import time

import pytest

import harness


@pytest.mark.core
def test_server_restart_bot_comes_back(prosody, bot, user):
    alice = user("alice")
    prosody.restart()
    # The bot reconnects with backoff; alice reconnects by hand.
    alice.disconnect()
    deadline = time.time() + 70
    answered = False
    while time.time() < deadline and not answered:
        c = harness.Client(prosody, "alice", create=False).connect()
        try:
            c.send("help")
            c.wait("Commands", timeout=5)
            answered = True
        except AssertionError:
            pass
        finally:
            c.disconnect()
    assert answered


def test_password_never_logged(prosody, tmp_path, clients):
    b = harness.Bot(prosody, tmp_path, log_level="debug").start()
    alice = harness.join(prosody, "alice")
    clients.append(alice)
    alice.ask("help")
    assert b.stop() == 0
    log = b.read_log()
    assert "logged in" in log
    assert harness.PASSWORD not in log
    import base64
    assert base64.b64encode(harness.PASSWORD.encode()).decode()[:12] not in log


def test_online_backup_while_running(user, bot, tmp_path):
    """README's backup recipe works while the bot runs."""
    import sqlite3
    import subprocess
    alice = user("alice")
    assert alice.ask("worth keeping") == "Posted #1."
    backup = str(tmp_path / "backup.db")
    subprocess.run(["sqlite3", bot.db, ".backup " + backup], check=True, timeout=30)
    con = sqlite3.connect(backup)
    assert con.execute("SELECT body FROM posts").fetchall() == [("worth keeping",)]
    assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    con.close()
    # And the bot did not notice.
    assert alice.ask("still here").startswith("Posted #2")
