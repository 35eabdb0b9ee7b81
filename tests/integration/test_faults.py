"""Faults (issue 5): whatever happens to the bot or the server, every
follower ends up with every confirmed update, and with no update twice
under a different id (a re-sent update keeps its stanza id, so clients
recognise it)."""
import ctypes
import os
import socket
import time

import pytest

import harness


def cpu_seconds(pid):
    """User + system CPU time the process has used so far, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        # The command name (field 2) may hold spaces: split after it.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def shrink_send_buffer(pid, size):
    """Give the TCP sockets of process pid a send buffer of size bytes, as
    on a real network path.  (On loopback the kernel grows it to 4 MB,
    which takes everything the bot has in flight: the socket then never
    refuses a write, whatever the server's throttle.)  The socket is
    borrowed with pidfd_getfd(2), which needs root or ptrace rights.
    False when it could not be done."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        for name in os.listdir("/proc/%d/fd" % pid):
            try:
                if not os.readlink("/proc/%d/fd/%s" % (pid, name)).startswith("socket:"):
                    continue
            except OSError:
                continue
            fd = libc.syscall(438, pidfd, int(name), 0)  # pidfd_getfd
            if fd < 0:
                return False
            with socket.socket(fileno=fd) as s:
                if s.type == socket.SOCK_STREAM:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        return True
    finally:
        os.close(pidfd)


def setup_crowd(prosody, tmp_path, n, bot_section="posts_per_minute = 1000;"):
    b = harness.Bot(prosody, tmp_path, bot_section=bot_section).start()
    poster = harness.join(prosody, "poster")
    b.stop()
    names = ["f%d" % i for i in range(n)]
    harness.add_followers(b.db, "poster", names, prosody)
    b.start()
    time.sleep(1.0)
    poster.disconnect()
    poster = harness.Client(prosody, "poster", create=False).connect()
    crowd = harness.Crowd(prosody, names)
    crowd.connect()
    crowd.present()
    time.sleep(1.0)
    return b, poster, crowd


def ids_per_follower(crowd, text):
    return {n: [i for i, _ in crowd.updates(n, text)] for n in crowd.names}


def test_kill9_mid_fanout_to_200(prosody, tmp_path):
    b, poster, crowd = setup_crowd(prosody, tmp_path, 200)
    try:
        poster.send("fan-out under fire")
        poster.wait("Posted #1.")
        b.kill9()              # somewhere in the middle of the fan-out
        b.start()
        # Directed presence reaches only an available resource: give the
        # bot's initial presence a moment to be processed by the server.
        # (Subscribed contacts need no such help: the server tells a
        # returning bot who is online.)
        time.sleep(1.0)
        crowd.present()        # the restarted bot learns who is online
        assert crowd.wait_all("fan-out under fire") == []
        time.sleep(1.0)
        for n, ids in ids_per_follower(crowd, "fan-out under fire").items():
            assert len(set(ids)) == 1, (n, ids)
    finally:
        crowd.disconnect()
        poster.disconnect()
        b.stop()


def test_server_restart_mid_fanout(tmp_path):
    # The server's stock throttle on the bot (Prosody's mod_limits: about
    # 40 messages a second; ejabberd's shaper: 3,000 bytes a second) keeps
    # the fan-out going when the server goes down; with the bot exempt it
    # could be over before the restart.
    prosody = harness.Server(tmp_path, limits_unlimited=False).start()
    b, poster, crowd = setup_crowd(prosody, tmp_path, 100)
    # ejabberd limits bytes, not messages: a long post keeps its fan-out
    # going for seconds (100 x 500 bytes at 3,000 a second).
    text = "through a restart" + (" " + "x" * 450 if harness.server_kind() == "ejabberd" else "")
    try:
        poster.send(text)
        poster.wait("Posted #1.")
        prosody.restart()
        before = ids_per_follower(crowd, "through a restart")
        crowd.disconnect()
        poster.disconnect()
        # Those the server took before it went down got theirs; the rest
        # must get it from the bot once both are back.
        missing = sorted(n for n, ids in before.items() if not ids)
        assert missing, "the restart came after the fan-out"
        crowd = harness.Crowd(prosody, missing)
        crowd.connect()
        # The bot comes back by itself (backoff); tell it who is online.
        b.wait_notify("READY=1")
        deadline = time.time() + 70
        while time.time() < deadline and "logged in" not in b.read_log().split("reconnecting")[-1]:
            time.sleep(0.5)
        time.sleep(1.0)
        crowd.present()
        assert crowd.wait_all("through a restart", timeout=90) == []
        for n, ids in ids_per_follower(crowd, "through a restart").items():
            assert len(set(ids)) == 1, (n, ids)
    finally:
        crowd.disconnect()
        b.stop()
        prosody.stop()


@pytest.mark.core
def test_flapping_follower_gets_everything_once(prosody, tmp_path):
    b, poster, crowd = setup_crowd(prosody, tmp_path, 3)
    try:
        for i in range(10):
            poster.send("flap %d" % i)
            crowd.present("dnd" if i % 2 == 0 else None, names=["f0"])
        for i in range(10):
            poster.wait("Posted #%d." % (i + 1))
        crowd.present(None, names=["f0"])
        for i in range(10):
            assert crowd.wait_all("flap %d (" % i) == []
        time.sleep(1.0)
        ids = [i for i, _ in crowd.updates("f0", "flap")]
        assert len(ids) == len(set(ids)) == 10
    finally:
        crowd.disconnect()
        poster.disconnect()
        b.stop()


def test_paces_itself_under_stock_mod_limits(tmp_path):
    """The server's stock throttle, bot not exempted: 1,000 deliveries all
    arrive, in order per recipient, and the session survives.  While the
    server holds the bot back, the bot sleeps (issue 12, item 5)."""
    p = harness.Server(tmp_path, limits_unlimited=False).start()
    try:
        b, poster, crowd = setup_crowd(p, tmp_path, 100)
        try:
            # A send buffer as on a real network path, and posts near the
            # usual 500-character limit: the bot has more in flight than
            # the socket takes, so the throttled server keeps the socket
            # full (libstrophe holds the rest) for much of the fan-out.
            shrunk = shrink_send_buffer(b.proc.pid, 4096)
            # ejabberd's stock shaper lets a client send 3,000 bytes a
            # second, a tenth of what Prosody's mod_limits allows: shorter
            # posts keep the fan-out within minutes there (the socket is
            # full all along), and an answer waits behind more of it.
            ejabberd = harness.server_kind() == "ejabberd"
            filler = "x" * (60 if ejabberd else 480)
            cpu0, wall0 = cpu_seconds(b.proc.pid), time.monotonic()
            for i in range(10):
                poster.send("paced %d %s" % (i, filler))
                poster.wait("Posted #%d." % (i + 1), timeout=120 if ejabberd else 30)
            assert crowd.wait_all("paced", count=10, timeout=240) == []
            cpu = cpu_seconds(b.proc.pid) - cpu0
            wall = time.monotonic() - wall0
            print("\nthrottled fan-out of 1,000: %.1f s wall, bot CPU %.2f s "
                  "(%.1f %%)%s" % (wall, cpu, 100 * cpu / wall,
                                   "" if shrunk else ", socket buffer not shrunk"))
            # A loop that polls a full socket at full speed burns a core
            # whenever the socket is full (here 15-65 % of the fan-out,
            # depending on post size); sleeping until it takes more costs
            # a fraction of a percent.  CPU time, not wall time: a busy
            # machine only makes the ratio smaller.  Valgrind multiplies
            # the bot's own work, so the bound does not apply there.
            if not os.environ.get("STARLING_VALGRIND"):
                assert cpu < 0.05 * wall, (cpu, wall)
            for n in crowd.names:
                bodies = [body for _, body in crowd.updates(n, "paced")]
                order = [int(x.split("paced ")[1].split(" ")[0]) for x in bodies]
                assert order == sorted(order) and len(set(order)) == 10, (n, order)
            # The session was never dropped after the last start.
            assert "disconnected" not in b.read_log().split("started for")[-1]
        finally:
            crowd.disconnect()
            poster.disconnect()
            assert b.stop() == 0
    finally:
        p.stop()
