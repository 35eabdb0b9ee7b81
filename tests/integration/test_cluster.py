"""Component mode on a two-node ejabberd cluster (SPEC 10): the bot keeps
a component connection to each node, each gets its share of the sends,
and when a node dies in the middle of a fan-out the updates it had not
confirmed go out again over the other: every follower online on the
surviving node gets every update, and each under one id only, so their
clients show it once.  (What the dead node delivered before it could
confirm it comes again under the same id: at-least-once across a crash,
exactly once as a client shows it.)"""
import time

import harness

SERVICE = "updates." + harness.DOMAIN
SECRET = "cluster-Secret-9"


def seed_component_store(db, poster, names):
    """A component-mode store: poster and names active users, names
    following poster (as joining and "follow" would make them)."""
    import sqlite3
    con = sqlite3.connect(db)
    with con:
        cur = con.execute("INSERT INTO users (jid, nick, created) VALUES (?, ?, 1)",
                          ("%s@%s" % (poster, harness.DOMAIN), poster))
        pid = cur.lastrowid
        for n in names:
            cur = con.execute("INSERT INTO users (jid, nick, created) VALUES (?, ?, 1)",
                              ("%s@%s" % (n, harness.DOMAIN), n))
            con.execute("INSERT INTO follows (follower, followee, created) VALUES (?, ?, 1)",
                        (cur.lastrowid, pid))
    con.close()


def cluster_bot(cluster, ports, tmp_path):
    d = tmp_path / "starling"
    d.mkdir(exist_ok=True)
    config = """xmpp: { mode = "component"; };
component: {
  domain = "%s";
  secret = "%s";
  host = "127.0.0.1";
  port = %d;
  nodes = [ "127.0.0.1:%d" ];
};
storage: { path = "%s"; };
bot: { posts_per_minute = 1000; };
log: { level = "info"; };
""" % (SERVICE, SECRET, ports[0], ports[1], d / "starling.db")
    b = harness.Bot(cluster[0], tmp_path, config=config)
    return b


def test_node_killed_mid_fanout_loses_nothing(tmp_path):
    cluster = harness.Cluster(tmp_path)
    ports = cluster.add_component(SERVICE, SECRET)
    names = ["f%d" % i for i in range(40)]
    cluster[0].add_users(["poster"] + names)
    cluster.start()
    b = cluster_bot(cluster, ports, tmp_path)
    crowds = []
    try:
        # The store first (the bot creates it), then the users in it.
        b.start()
        b.stop()
        seed_component_store(b.db, "poster", names)
        b.start()
        log = b.read_log().split("started for")[-1]
        deadline = time.time() + 20
        while log.count("connected as component") < 2:
            assert time.time() < deadline, "not connected to both nodes:\n" + log
            time.sleep(0.2)
            log = b.read_log().split("started for")[-1]
        # Half the followers on each node; the poster on node 0.
        crowds = [harness.Crowd(cluster[i], names[i::2]) for i in (0, 1)]
        for c in crowds:
            c.connect()
        poster = harness.Client(cluster[0], "poster", create=False).connect()
        cluster.wait_present(*names)
        for c in crowds:
            c.present()  # directed presence: the bot learns who is online
        time.sleep(2.0)
        # Ten posts to 40 followers, and node 1 dies in the middle.
        for i in range(10):
            poster.send("cluster post %d" % i, to=SERVICE)
        posted = [poster.wait("Posted #", timeout=20)["body"]]
        cluster.kill(1)
        while len(posted) < 10:
            posted.append(poster.wait("Posted #", timeout=30)["body"])
        assert sorted(posted) == sorted("Posted #%d." % (i + 1) for i in range(10))
        # Everyone still online (on node 0) gets every post, once each.
        survivors = crowds[0]
        for i in range(10):
            assert survivors.wait_all("cluster post %d (" % i, timeout=60) == []
        time.sleep(1.0)
        again = 0
        for n in survivors.names:
            got = survivors.updates(n, "cluster post")
            ids = {i for i, _ in got}
            assert len(ids) == 10, (n, sorted(ids))
            # One id per update (post and recipient), whatever came twice.
            assert len({b for _, b in got}) == len(ids), (n, got)
            again += len(got) - len(ids)
        print("updates that came twice (same id): %d" % again)
        assert "disconnected from the server" in b.read_log()
    finally:
        for c in crowds:
            c.disconnect()
        b.stop()
        cluster.stop()
