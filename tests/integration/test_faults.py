"""Faults (issue 5): whatever happens to the bot or the server, every
follower ends up with every confirmed update, and with no update twice
under a different id (a re-sent update keeps its stanza id, so clients
recognise it)."""
import time

import pytest

import harness


def setup_crowd(prosody, tmp_path, n, bot_section="posts_per_minute = 1000;"):
    b = harness.Bot(prosody, tmp_path, bot_section=bot_section).start()
    poster = harness.join(prosody, "poster")
    b.stop()
    names = ["f%d" % i for i in range(n)]
    harness.add_followers(b.db, "poster", names)
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
    try:
        poster.send("through a restart")
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
    arrive, in order per recipient, and the session survives."""
    p = harness.Server(tmp_path, limits_unlimited=False).start()
    try:
        b, poster, crowd = setup_crowd(p, tmp_path, 100)
        try:
            for i in range(10):
                poster.send("paced %d" % i)
                poster.wait("Posted #%d." % (i + 1), timeout=30)
            assert crowd.wait_all("paced", count=10, timeout=240) == []
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
