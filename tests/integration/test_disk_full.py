"""A full disk (issue 12, item 6): the bot keeps its session, refuses new
posts with a clear reply, keeps delivering what is stored, logs the
condition once, and takes posts again by itself once space returns.
Nothing it confirmed is lost, and nothing it refused is posted.

The bot's database lives on a tmpfs of a few megabytes, which a filler
file fills up while the bot runs; mounting it needs root (CI is root)."""
import errno
import os
import subprocess
import time

import pytest

import harness

REFUSAL = "cannot store posts right now"


def fill(path):
    """Write path until the file system has no page left."""
    with open(path, "wb", buffering=0) as f:
        for chunk in (1 << 20, 1 << 16, 1 << 12):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e


def wait_log(bot, text, timeout=60):
    deadline = time.time() + timeout
    while text not in bot.read_log():
        assert time.time() < deadline, "no %r in the log:\n%s" % (text, bot.read_log()[-3000:])
        time.sleep(0.2)


def error_lines(text):
    return [line for line in text.splitlines() if " error: " in line]


@pytest.fixture
def small_fs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs for the database needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mnt)],
                   check=True)
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)])


def test_full_disk_refuses_posts_keeps_delivering_and_recovers(prosody, tmp_path, small_fs, clients):
    b = harness.Bot(prosody, tmp_path)
    # Only the database on the small file system: the log must survive.
    db = str(small_fs / "starling.db")
    with open(b.conf) as f:
        conf = f.read().replace(b.db, db)
    with open(b.conf, "w") as f:
        f.write(conf)
    b.db = db
    b.start()
    try:
        admin = harness.join(prosody, "admin")
        fan = harness.join(prosody, "fan")      # away while the disk fills
        live = harness.join(prosody, "live")    # online throughout
        clients.extend([admin, fan, live])
        for c in (fan, live):
            # "admin" is a reserved nick: the admin joins as admin2.
            assert c.ask("follow admin2").startswith("You now follow")
        fan.offline()
        time.sleep(0.5)
        assert admin.ask("held while you were out") == "Posted #1."
        live.wait("held while you were out")

        filler = small_fs / "filler"
        before = len(b.read_log())
        fill(filler)

        # The first post finds the disk full when its turn is committed:
        # the "Posted #2." it was about to get is replaced by the refusal,
        # and the update already queued for "live" does not go out.
        answer = admin.ask("written on a full disk")
        assert REFUSAL in answer and "Posted" not in answer, answer
        # Later ones fail on their own, with the same answer.
        assert REFUSAL in admin.ask("still full")
        assert REFUSAL in admin.ask("follow fan")
        # Reads work; stats says what is wrong.
        assert "held while you were out" in admin.ask("last")
        assert "database full" in admin.ask("stats")

        # What was stored before still goes out: the fan comes back and
        # gets the held update.
        fan.presence()
        held = fan.wait("held while you were out", timeout=20)
        assert held["delay"] is not None

        # The bot and its session are still there.
        assert b.proc.poll() is None
        assert admin.online() != []
        log = b.read_log()[before:]
        assert "disconnected" not in log
        # Logged once, at error level, however many writes failed.
        errors = error_lines(log)
        assert len(errors) == 1 and "cannot write" in errors[0], errors

        # Space returns: the bot finds out by itself.
        filler.unlink()
        wait_log(b, "writable again")
        assert admin.ask("after space returned") == "Posted #2."
        for c in (fan, live):
            c.wait("after space returned", timeout=20)
        assert "database full" not in admin.ask("stats")
        # Nothing refused was posted or delivered.
        for c in (fan, live):
            got = [m["body"] for m in c.seen] + [m["body"] for m in c.drain(1.0)]
            assert not any("full" in (body or "") for body in got), (c.jid, got)
        assert "still full" not in admin.ask("last")
    finally:
        rc = b.stop()
    # A clean stop: unavailable presence sent, database closed.
    assert rc == 0, b.read_log()[-3000:]
    assert "stopped" in b.read_log()
