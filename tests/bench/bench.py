"""make bench: Starling's performance against baselines measured in the
same run, on a private Prosody (bot exempted with unlimited_jids).

Cases (BENCH_CASES, comma-separated; default all that exist):
  size   every command's latency at a store of 100,000 users / 1,000,000
         posts / 2,000,000 follows vs at a small store (BENCH_SMALL=1 uses
         10,000 / 100,000 / 200,000).
  component  component mode (SPEC 10): fan-out of one post to 1,000 /
         5,000 / 20,000 online subscribers (BENCH_COMPONENT=a,b,...;
         BENCH_SMALL=1: 100 / 1,000), time to the last receipt and the
         bot's CPU per delivery vs the floor component sending the same
         messages (BENCH_COMPONENT_REPS paired runs, default 5).
  startup  component mode, 100,000 subscribers of whom 5,000 are online
         (BENCH_SMALL=1: 10,000 / 1,000): time from exec to READY=1, to
         the last probe sent, to the bot counting every online one; its
         peak RSS.
  bigpost  component mode, a post to 100,000 followers of whom 5,000 are
         online (BENCH_SMALL=1: 10,000 / 1,000): time to "Posted #N.",
         bytes the bot wrote to storage, time until the online ones have it.
The component cases raise the limit on open files to 65,536 (the server
holds one per client; raising the hard limit needs root).
One line per case and command, the ratio last as R.RRx.  Exits non-zero
only when a case could not run.
"""
import os
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

SEED = os.path.join(harness.ROOT, "build", "seed")
REPS = int(os.environ.get("BENCH_REPS", "30"))
USERS = 40  # measuring clients: each stays within the per-JID message budget

# "more" continues "#garden" (both stores have more than 20 such posts);
# "show #3" is a post with a thread of 15 replies (build/seed), "show #1"
# one without.
COMMANDS = [
    "help", "last", "last u2 20", "whois u2", "followers", "following",
    "mentions", "search garden tea", "show #1", "show #3", "follow u7",
    "unfollow u7", "track garden", "untrack garden", "tracking", "stats",
    "post hello", "#garden", "more", "last #tea 20", "favs", "dms",
]
# Sent untimed before a command so that it always does the same work
# (follow always inserts, unfollow always deletes).
PREPARE = {"follow u7": "unfollow u7", "track garden": "untrack garden"}


def seed(db, users, posts, follows):
    out = subprocess.run([SEED, db, str(users), str(posts), str(follows)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def measure(tmp, db):
    """Median latency in ms of each command, against the database db."""
    # The measuring clients are exempt from Prosody's client throttle too:
    # at 10 kB/s each command would otherwise wait ~13 ms to be read.
    prosody = harness.Prosody(tmp, roster_sql=True, unlimited=[
        "u%d@localhost" % i for i in range(1, USERS + 1)]).start()
    bot = harness.Bot(prosody, tmp, bot_section='admins = [ "u1@localhost" ]; posts_per_minute = 10000;')
    shutil.copy(db, bot.db)
    bot.start()
    clients = []
    try:
        for i in range(1, USERS + 1):
            prosody.add_user("u%d" % i)
            clients.append(harness.Client(prosody, "u%d" % i, create=False).connect())
        # warm up: the first query of each kind pays for cold pages
        for c in clients[-2:]:
            for cmd in COMMANDS:
                c.ask(cmd, timeout=30)
        times = {cmd: [] for cmd in COMMANDS}
        for rep in range(REPS):
            c = clients[rep % (USERS - 2)]
            for cmd in COMMANDS:
                if cmd in PREPARE:
                    c.ask(PREPARE[cmd], timeout=30)
                t0 = time.perf_counter()
                c.ask(cmd, timeout=30)
                times[cmd].append((time.perf_counter() - t0) * 1000)
            time.sleep(0.05)
        return {cmd: statistics.median(v) for cmd, v in times.items()}
    finally:
        for c in clients:
            c.disconnect()
        bot.stop()
        prosody.stop()


def case_size():
    small = os.environ.get("BENCH_SMALL") == "1"
    big = (10000, 100000, 200000) if small else (100000, 1000000, 2000000)
    tmp = tempfile.mkdtemp(prefix="starling-bench-")
    try:
        base_db = os.path.join(tmp, "base.db")
        big_db = os.path.join(tmp, "big.db")
        # Same shape per user as the large store (10 posts and 20 follows
        # each), so that only the size of the whole store differs.
        print("seeding baseline: " + seed(base_db, 30, 300, 600), flush=True)
        print("seeding large:    " + seed(big_db, *big), flush=True)
        print("large store: %.0f MiB on disk" % (os.path.getsize(big_db) / 2**20), flush=True)
        base = measure(os.path.join(tmp, "a"), base_db)
        large = measure(os.path.join(tmp, "b"), big_db)
        worst = 0
        for cmd in COMMANDS:
            r = large[cmd] / base[cmd]
            worst = max(worst, r)
            print("size %-18s %7.2f ms at %s users vs %7.2f ms at 30 users = %.2fx"
                  % (cmd + ":", large[cmd], "{:,}".format(big[0]), base[cmd], r), flush=True)
        print("size worst: %.2fx" % worst)
    finally:
        if os.environ.get("BENCH_KEEP") is None:
            shutil.rmtree(tmp, ignore_errors=True)



LOAD = os.path.join(harness.ROOT, "build", "load")
# $FLOOR_BIN in place of build/floor (a valgrind wrapper, as $STARLING_BIN
# for the bot: the floor's instructions counted the same way).
FLOOR = os.environ.get("FLOOR_BIN") or os.path.join(harness.ROOT, "build", "floor")
PER_PROCESS = 800   # libstrophe's select() loop: stay well under 1024 fds
TEXT = "fan-out benchmark: a short status update about the garden and tea"


class Proc:
    """A line-oriented helper process (build/load or build/floor)."""

    def __init__(self, args, ca_file):
        # libstrophe loads OpenSSL's default CA bundle for every stream
        # (~50 ms of PEM parsing a login); point it at the test CA.
        env = dict(os.environ, SSL_CERT_FILE=ca_file)
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1, env=env)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.p.stdout, selectors.EVENT_READ)

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def expect(self, word, timeout=120):
        """The next output line that starts with word, split on blanks."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.sel.select(max(0, deadline - time.time())):
                break
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("%s exited (%s)" % (os.path.basename(self.p.args[0]), self.p.wait()))
            if line.startswith(word):
                return line.split()
        raise RuntimeError("no %r from %s within %s s" % (word, os.path.basename(self.p.args[0]), timeout))

    def cpu(self):
        return cpu_seconds(self.p.pid)

    def close(self):
        if self.p.poll() is None:
            try:
                self.send("quit")
                self.p.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        self.sel.close()


def cpu_seconds(pid):
    """Time on CPU of a process so far, from /proc/PID/schedstat."""
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0]) / 1e9


class Load:
    """Clients u<first>..u<last>, PER_PROCESS to a process; each logs in,
    sends initial presence and directed presence (with show) to the bot
    (to; None: no directed presence)."""

    def __init__(self, prosody, first, last, show="", to=harness.BOT):
        self.procs, self.sizes, self.expected = [], [], []
        for a in range(first, last + 1, PER_PROCESS):
            b = min(last, a + PER_PROCESS - 1)
            args = [LOAD, "127.0.0.1", str(prosody.port), harness.DOMAIN, harness.PASSWORD,
                    "u", str(a), str(b)] + ([to] if to else []) + ([show] if show else [])
            self.procs.append(Proc(args, prosody.ca_file))
            self.sizes.append(b - a + 1)

    def ready(self, timeout=600):
        for p in self.procs:
            p.expect("ready", timeout)
        return self

    def send_all(self, line):
        for p in self.procs:
            p.send(line)

    def arm(self, per_client):
        """Forget earlier messages; each process reports once every one of
        its clients could have per_client messages."""
        self.expected = [n * per_client for n in self.sizes]
        for p, n in zip(self.procs, self.expected):
            p.send("reset")
            p.send("expect %d" % n)
        # Only then may anything be sent: a message that came in before
        # the reset was read would be forgotten by it.
        for p in self.procs:
            p.expect("armed")

    def last_receipt(self, timeout=float(os.environ.get("BENCH_TIMEOUT", "120"))):
        try:
            return max(float(p.expect("done", timeout)[2]) for p in self.procs)
        except RuntimeError as e:
            raise RuntimeError("%s (received %s of %s)" % (
                e, "+".join(str(n) for n in self.counts()),
                "+".join(str(n) for n in self.expected))) from None

    def reset(self):
        """Forget earlier messages, expecting none."""
        self.expected = [0 for _ in self.procs]
        for p in self.procs:
            p.send("reset")
        for p in self.procs:
            p.expect("armed")

    def counts(self):
        """Messages each process received since its last reset."""
        for p in self.procs:
            p.send("count")
        return [int(p.expect("count", 30)[1]) for p in self.procs]

    def close(self):
        for p in self.procs:
            p.close()


def fresh_store(db, users):
    """A real schema with users u1..u<users> (build/seed, no posts)."""
    return seed(db, users, 0, 0)


def sql(db, *statements):
    import sqlite3
    con = sqlite3.connect(db)
    with con:
        for st in statements:
            con.execute(st)
    con.close()


def ratio_line(name, bot, floor, scale=1.0, unit="s", fmt="%.3f"):
    """One case: medians of the paired runs (bot[i] was measured right
    after floor[i]), and the median of the pairs' ratios, which cancels the
    machine's drift between pairs."""
    med = statistics.median
    r = med([b / f if f > 0 else float("inf") for b, f in zip(bot, floor)])
    print(("%s: " + fmt + " %s vs floor " + fmt + " %s = %.2fx")
          % (name, med(bot) * scale, unit, med(floor) * scale, unit, r), flush=True)
    return r


class Rig:
    """A private Prosody (rosters in SQLite, the bot and the measuring
    senders exempt from mod_limits) with accounts u1..u<users>, and the bot
    on db."""

    def __init__(self, tmp, users, db, unlimited=(), bot_section=None, delivery=None,
                 roster_sql=True):
        self.tmp = tmp
        self.prosody = harness.Prosody(tmp, roster_sql=roster_sql,
                                       unlimited=["floor@localhost"] + list(unlimited))
        for i in range(1, users + 1):
            self.prosody.add_user("u%d" % i)
        self.prosody.add_user("floor")
        self.prosody.start()
        self.bot = harness.Bot(self.prosody, tmp, delivery=delivery,
                               bot_section=bot_section or "posts_per_minute = 10000;")
        shutil.copy(db, self.bot.db)
        self.procs = []

    def start_bot(self):
        t0 = time.monotonic()
        self.bot.start(timeout=300)
        return time.monotonic() - t0

    def proc(self, args):
        p = Proc(args, self.prosody.ca_file)
        self.procs.append(p)
        return p

    def poster(self, n):
        return self.proc([LOAD, "127.0.0.1", str(self.prosody.port), harness.DOMAIN,
                          harness.PASSWORD, "u", str(n), str(n)])

    def floor(self, mode, *rest, jid="floor@localhost"):
        return self.proc([FLOOR, mode, "127.0.0.1", str(self.prosody.port),
                          jid, harness.PASSWORD] + [str(x) for x in rest])

    def load(self, first, last, show=""):
        ld = Load(self.prosody, first, last, show)
        self.procs.append(ld)
        return ld

    def close(self):
        for p in reversed(self.procs):
            p.close()
        try:
            self.bot.stop()
        finally:
            self.prosody.stop()


class Scratch:
    """A temporary directory, and the rig set up in it: both gone at the
    end of the with block (the directory stays with BENCH_KEEP set)."""

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="starling-bench-")
        self.rig = None
        return self

    def __exit__(self, *exc):
        try:
            if self.rig is not None:
                self.rig.close()
        finally:
            if os.environ.get("BENCH_KEEP") is None:
                shutil.rmtree(self.tmp, ignore_errors=True)


def followers_store(tmp, n):
    """u1..u<n> follow u<n+1>, the poster."""
    db = os.path.join(tmp, "fanout.db")
    fresh_store(db, n + 1)
    sql(db, "INSERT INTO follows (follower, followee, created) "
            "SELECT id, %d, 1 FROM users WHERE id <= %d" % (n + 1, n))
    return db


FLOOR_JID = "floor@" + harness.DOMAIN


def timed_floor(rig, floor_proc, load, per_client, poster, to=FLOOR_JID):
    """One run of the floor sender (at to), told to send by a post from
    poster through the server, as the bot is: seconds from the post to the
    last receipt, its CPU seconds, the server's CPU seconds."""
    load.arm(per_client)
    c0, s0 = floor_proc.cpu(), cpu_seconds(rig.prosody.proc.pid)
    poster.send("send %s 1 go" % to)
    t0 = float(poster.expect("sent")[1])
    floor_proc.expect("sent")
    last = load.last_receipt()
    time.sleep(0.3)  # let it finish what follows the last write
    return last - t0, floor_proc.cpu() - c0, cpu_seconds(rig.prosody.proc.pid) - s0


def timed_post(rig, poster, load, per_client, text, to=harness.BOT):
    """One post through the bot (at to): seconds to the last receipt, the
    bot's CPU seconds, the server's CPU seconds."""
    load.arm(per_client)
    c0, s0 = cpu_seconds(rig.bot.proc.pid), cpu_seconds(rig.prosody.proc.pid)
    poster.send("send %s 1 %s" % (to, text))
    t0 = float(poster.expect("sent")[1])
    last = load.last_receipt()
    time.sleep(0.3)  # the barrier answers and outbox deletes still count
    return (last - t0, cpu_seconds(rig.bot.proc.pid) - c0,
            cpu_seconds(rig.prosody.proc.pid) - s0)


def settle(*pids, quiet=0.005, timeout=60):
    """Wait until none of pids used more than quiet seconds of CPU in the
    last 0.2 s (what was sent to them has been handled)."""
    deadline = time.monotonic() + timeout
    before = [cpu_seconds(p) for p in pids]
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = [cpu_seconds(p) for p in pids]
        if all(b - a <= quiet for a, b in zip(before, now)):
            return
        before = now
    raise RuntimeError("still busy after %d s" % timeout)


def profile(pid, name):
    """With BENCH_PERF=DIR, perf record -g of pid into DIR/NAME.perf."""
    out = os.environ.get("BENCH_PERF")
    if not out:
        return None
    os.makedirs(out, exist_ok=True)
    return subprocess.Popen(["perf", "record", "--call-graph", "dwarf", "-F", "4000", "-q", "-p", str(pid), "-o",
                             os.path.join(out, name + ".perf")])


def stop_profile(prof):
    if prof is not None:
        prof.send_signal(signal.SIGINT)
        prof.wait(60)


def fanout_sizes():
    if os.environ.get("BENCH_SMALL") == "1":
        return [100, 1000]
    return [int(x) for x in os.environ.get("BENCH_FANOUT", "100,1000,5000").split(",")]


def paired_fanout(rig, floor, poster, load, reps, name, n, online, note, to=harness.BOT,
                  floor_to=FLOOR_JID):
    """A warm-up post (it also proves every online follower is known
    online), then reps pairs of a floor run and a post through the bot to
    the online followers; prints the figures of name (N: how many
    follow).  Returns the fan-out ratio."""
    timed_post(rig, poster, load, 1, "warm-up " + TEXT, to=to)
    timed_floor(rig, floor, load, 1, poster, floor_to)
    bot_t, bot_c, fl_t, fl_c, bot_s, fl_s = [], [], [], [], [], []
    prof = profile(rig.bot.proc.pid, "%s-%d" % (name, n))
    for _ in range(reps):
        a, b, c = timed_floor(rig, floor, load, 1, poster, floor_to)
        fl_t.append(a)
        fl_c.append(b)
        fl_s.append(c)
        a, b, c = timed_post(rig, poster, load, 1, TEXT, to=to)
        bot_t.append(a)
        bot_c.append(b)
        bot_s.append(c)
    stop_profile(prof)
    med = statistics.median
    prefix = "" if name == "fanout" else name + " "
    print("(%s; medians of %d paired runs)" % (note, reps), flush=True)
    r = ratio_line("%sfan-out %d" % (prefix, n), bot_t, fl_t)
    ratio_line("%scpu per delivery %d" % (prefix, n), bot_c, fl_c, scale=1e6 / online,
               unit="us", fmt="%.1f")
    print("%sper delivery %d: bot %.1f us, floor %.1f us; server CPU per delivery "
          "%.1f us with the bot, %.1f us with the floor" % (
              prefix, n, med(bot_t) / online * 1e6, med(fl_t) / online * 1e6,
              med(bot_s) / online * 1e6, med(fl_s) / online * 1e6), flush=True)
    return r


def case_fanout():
    """Fan-out of one post to N online followers, and the bot's CPU per
    delivery, against the floor sender (the same N messages, one
    connection, same server, same run)."""
    reps = int(os.environ.get("BENCH_FANOUT_REPS", "7"))
    worst = 0
    for n in fanout_sizes():
        with Scratch() as sc:
            tmp = sc.tmp
            db = followers_store(tmp, n)
            rig = sc.rig = Rig(tmp, n + 1, db, unlimited=["u%d@localhost" % (n + 1)])
            rig.start_bot()
            t = time.monotonic()
            load = rig.load(1, n).ready()
            login = time.monotonic() - t
            poster = rig.poster(n + 1)
            poster.expect("ready")
            body = "u%d: %s (#%d)" % (n + 1, TEXT, 1)
            floor = rig.floor("send", "u", 1, n, harness.DOMAIN, 1, body)
            floor.expect("ready")
            worst = max(worst, paired_fanout(
                rig, floor, poster, load, reps, "fanout", n, n,
                "%d followers logged in in %.1f s" % (n, login)))


def case_ingest():
    """1,000 posts from 50 users as fast as they send them: time to the
    last "Posted #N." against an echo floor that answers without storing."""
    users, per, reps = 50, 20, 3
    with Scratch() as sc:
        tmp = sc.tmp
        db = os.path.join(tmp, "ingest.db")
        fresh_store(db, users * reps)
        # Each run has users of its own: 20 posts each stays inside the
        # per-JID budget of 30 messages a minute.
        rig = sc.rig = Rig(tmp, users * reps, db,
                  unlimited=["u%d@localhost" % i for i in range(1, users * reps + 1)])
        rig.start_bot()
        echo = rig.floor("echo")
        echo.expect("ready")
        groups = [rig.load(1 + r * users, (r + 1) * users).ready() for r in range(reps)]
        bot_t, fl_t = [], []
        for g in groups:
            for target, out in (("floor@localhost", fl_t), (harness.BOT, bot_t)):
                g.arm(per)
                g.send_all("send %s %d post ingest benchmark: a short status update" % (target, per))
                t0 = float(g.procs[0].expect("sent")[1])
                out.append(g.last_receipt() - t0)
        med = statistics.median
        n = users * per
        print("(medians of %d runs of %d posts from %d users)" % (reps, n, users), flush=True)
        b, f = n / med(bot_t), n / med(fl_t)
        r = med([ft / bt for bt, ft in zip(bot_t, fl_t)])  # throughput, paired runs
        print("ingest %d posts: %.0f posts/s vs echo floor %.0f msgs/s = %.2fx"
              % (n, b, f, r), flush=True)


def status_kib(pid):
    """VmHWM, VmRSS, RssAnon, RssFile of a process, in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0])
    return out


def write_file_roster(prosody, owner, contacts):
    """owner's roster in Prosody's file storage, every contact "both"."""
    d = os.path.join(prosody.dir, "data", harness.escape(harness.DOMAIN), "roster")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, harness.escape(owner) + ".dat"), "w") as f:
        f.write("return {\n  [false] = { version = 1; pending = {} };\n")
        for c in contacts:
            f.write('  ["%s"] = { subscription = "both"; groups = {} };\n' % c)
        f.write("};\n")


def case_memory():
    """Peak RSS with 100,000 users and 5,000 online; login with a
    5,000-contact roster against the floor's roster fetch.  The store
    agrees with the bot's roster, as it does in service: the followers and
    the poster are contacts and active, the other users are in the store
    but inactive (unsubscribed), since the bot reconciles the two at login
    and would otherwise make them inactive there."""
    online, reps = 5000, 3
    users = 10000 if os.environ.get("BENCH_SMALL") == "1" else 100000
    with Scratch() as sc:
        tmp = sc.tmp
        db = os.path.join(tmp, "memory.db")
        print("seeding: " + seed(db, users, users, 2 * users), flush=True)
        poster = online + 1
        sql(db, "INSERT OR IGNORE INTO follows (follower, followee, created) "
                "SELECT id, %d, 1 FROM users WHERE id <= %d" % (poster, online),
            "UPDATE users SET active = 0 WHERE id > %d" % poster)
        # Rosters in files: only the bot's is large, and nothing changes it.
        rig = sc.rig = Rig(tmp, poster, db, unlimited=["u%d@localhost" % poster], roster_sql=False)
        write_file_roster(rig.prosody, "bot", ["u%d@localhost" % i for i in range(1, poster + 1)])
        floor_t, bot_t = [], []
        for _ in range(reps):
            f = rig.floor("roster", jid=harness.BOT)
            words = f.expect("roster", 120)
            f.close()
            floor_t.append(float(words[3]))
            bot_t.append(rig.start_bot())
            rig.bot.stop()
            rig.bot.notifications = []
        rig.start_bot()
        load = rig.load(1, online).ready()
        p = rig.poster(poster)
        p.expect("ready")
        timed_post(rig, p, load, 1, TEXT)  # every one of them gets it
        m = status_kib(rig.bot.proc.pid)
        med = statistics.median
        print("login %d contacts: %.3f s to ready vs floor roster fetch %.3f s = %.2fx"
              % (poster, med(bot_t), med(floor_t), med(bot_t) / med(floor_t)), flush=True)
        print("memory %s users, %d online, after a post to all of them: peak RSS %.1f MiB "
              "(now %.1f MiB: %.1f anonymous, %.1f file-backed) vs goal 64 MiB = %.2fx"
              % ("{:,}".format(users), online, m["VmHWM"] / 1024, m["VmRSS"] / 1024,
                 m["RssAnon"] / 1024, m["RssFile"] / 1024, m["VmHWM"] / 1024 / 64), flush=True)


def timed_return(rig, pid, load, per_client, to=None):
    """Every follower says available (to the bot, or to to alone): seconds
    from the first presence to the last receipt, the CPU seconds of pid,
    the server's CPU seconds."""
    load.arm(per_client)
    c0, s0 = cpu_seconds(pid), cpu_seconds(rig.prosody.proc.pid)
    load.send_all("show available" + (" " + to if to else ""))
    t0 = min(float(p.expect("shown")[1]) for p in load.procs)
    last = load.last_receipt()
    time.sleep(0.3)
    return last - t0, cpu_seconds(pid) - c0, cpu_seconds(rig.prosody.proc.pid) - s0


def case_backlog():
    """N followers, each with HELD updates held while dnd, become available
    at once: time until every one has them all, against the floor that
    does the same job with the least work (it sends each follower's
    messages when that follower's presence says available, timed from the
    same presences), and against the floor sending all N * HELD messages at
    once (no presence to wait for)."""
    n = int(os.environ.get("BENCH_BACKLOG", "1000" if os.environ.get("BENCH_SMALL") == "1" else "5000"))
    held, reps = 3, 5
    with Scratch() as sc:
        tmp = sc.tmp
        db = followers_store(tmp, n)
        rig = sc.rig = Rig(tmp, n + 1, db, unlimited=["u%d@localhost" % (n + 1)])
        rig.start_bot()
        load = rig.load(1, n, show="dnd").ready()
        poster = rig.poster(n + 1)
        poster.expect("ready")
        body = "u%d: %s (#%d)" % (n + 1, TEXT, 1)
        floor = rig.floor("send", "u", 1, n, harness.DOMAIN, held, body)
        floor.expect("ready")
        served = rig.floor("held", "u", 1, n, harness.DOMAIN, held, body)
        served.expect("ready")
        bot_t, fl_t, bot_c, fl_c, bot_s, fl_s = [], [], [], [], [], []
        sv_t, sv_c, sv_s = [], [], []
        for _ in range(reps):
            load.send_all("show dnd")
            for p in load.procs:
                p.expect("shown")
            time.sleep(2)
            # The bot has seen every one go dnd: it and the server are idle.
            settle(rig.bot.proc.pid, rig.prosody.proc.pid)
            load.reset()
            poster.send("reset")
            poster.send("expect %d" % held)
            poster.expect("armed")
            poster.send("send %s %d %s" % (harness.BOT, held, TEXT))
            poster.expect("done", 60)  # each "Posted #N." came back
            settle(rig.bot.proc.pid, rig.prosody.proc.pid)
            early = sum(load.counts())
            if early:
                raise RuntimeError("%d updates reached followers the bot should have "
                                   "seen dnd" % early)
            a, b, c = timed_floor(rig, floor, load, held, poster)
            fl_t.append(a)
            fl_c.append(b)
            fl_s.append(c)
            # The same presences, told to the floor alone: the bot still
            # sees every follower dnd.
            served.send("go")
            served.expect("armed")
            a, b, c = timed_return(rig, served.p.pid, load, held, FLOOR_JID)
            sv_t.append(a)
            sv_c.append(b)
            sv_s.append(c)
            a, b, c = timed_return(rig, rig.bot.proc.pid, load, held)
            bot_t.append(a)
            bot_c.append(b)
            bot_s.append(c)
        med = statistics.median
        print("(%d followers, %d held updates each; medians of %d paired runs)" % (n, held, reps), flush=True)
        ratio_line("held backlog %d x %d" % (n, held), bot_t, sv_t)
        ratio_line("cpu per held delivery", bot_c, sv_c, scale=1e6 / (n * held),
                   unit="us", fmt="%.1f")
        ratio_line("held backlog %d x %d, floor sending at once" % (n, held), bot_t, fl_t)
        ratio_line("cpu per held delivery, floor sending at once", bot_c, fl_c,
                   scale=1e6 / (n * held), unit="us", fmt="%.1f")
        print("server CPU for the backlog: %.3f s with the bot (%d presences and %d "
              "messages), %.3f s with the floor served on presence (the same), "
              "%.3f s with the floor sending at once (%d messages)" % (
                  med(bot_s), n, n * held, med(sv_s), med(fl_s), n * held), flush=True)


# Component mode (SPEC 10) -------------------------------------------------

SERVICE = "updates." + harness.DOMAIN
FLOOR_DOMAIN = "floor." + harness.DOMAIN  # the floor sender's own component
SECRET = "bench-component-Secret-1"
PROSODY_SQL = ('storage = { roster = "sql"; accounts = "sql" }\n'
               'sql = { driver = "SQLite3", database = "roster.sqlite" }\n')


def raise_nofile(need):
    """Allow need descriptors to this process and what it starts (the
    server holds one per client): raising the hard limit needs root."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def component_store(db, users, followers=0):
    """Users u1..u<users> (build/seed), all active: the bot's component
    subscribers; u1..u<followers> follow u<users>, the poster."""
    fresh_store(db, users)
    if followers:
        sql(db, "INSERT INTO follows (follower, followee, created) "
                "SELECT id, %d, 1 FROM users WHERE id <= %d" % (users, followers))
    return db


class ComponentRig(Rig):
    """A private Prosody with the components SERVICE (the bot) and
    FLOOR_DOMAIN (the floor sender), accounts and rosters in its SQLite
    storage: u1..u<users> exist and each has SERVICE in their roster with
    subscription both, as joining leaves it, so that their presence reaches
    the bot and its probes are answered.  The bot on db in component mode,
    admin (a JID) may ask it for stats."""

    def __init__(self, tmp, users, db, unlimited=(), admin=None):
        raise_nofile(65536)
        self.tmp = tmp
        self.procs = []
        p = self.prosody = harness.Prosody(tmp, extra=PROSODY_SQL,
                                           unlimited=list(unlimited))
        port = p.add_component(SERVICE, SECRET)
        p.add_component(FLOOR_DOMAIN, SECRET)
        # The table as Prosody makes it (it would create it only at its
        # first query).
        store = os.path.join(p.dir, "data", "roster.sqlite")
        import sqlite3
        con = sqlite3.connect(store)
        with con:
            con.execute('CREATE TABLE IF NOT EXISTS "prosody" ("host" TEXT NOT NULL, '
                        '"user" TEXT NOT NULL, "store" TEXT NOT NULL, "key" TEXT NOT NULL, '
                        '"type" TEXT NOT NULL, "value" MEDIUMTEXT NOT NULL)')
            con.execute('CREATE INDEX IF NOT EXISTS "prosody_index" ON "prosody" '
                        '("host", "user", "store", "key")')
            con.executemany(
                'INSERT INTO prosody (host, user, store, key, type, value) VALUES (?, ?, ?, ?, ?, ?)',
                ((harness.DOMAIN, "u%d" % i, st, k, t, v) for i in range(1, users + 1)
                 for st, k, t, v in (("accounts", "password", "string", harness.PASSWORD),
                                     ("roster", SERVICE, "json",
                                      '{"subscription":"both","groups":[]}'))))
        con.close()
        p.start()
        config = """xmpp: { mode = "component"; };
component: { domain = "%s"; secret = "%s"; host = "127.0.0.1"; port = %d; };
storage: { path = "%s"; };
bot: { admins = [ "%s" ]; posts_per_minute = 10000; };
log: { level = "info"; };
""" % (SERVICE, SECRET, port, os.path.join(tmp, "starling", "starling.db"),
       admin or "admin@" + harness.DOMAIN)
        self.bot = harness.Bot(p, tmp, config=config)
        shutil.copy(db, self.bot.db)
        self.port = port

    def load(self, first, last, show=""):
        ld = Load(self.prosody, first, last, show, to=None)
        self.procs.append(ld)
        return ld

    def poster(self, n):
        return self.proc([LOAD, "127.0.0.1", str(self.prosody.port), harness.DOMAIN,
                          harness.PASSWORD, "u", str(n), str(n)])

    def floor_component(self, *rest):
        return self.proc([FLOOR, "component", "127.0.0.1", str(self.port), FLOOR_DOMAIN,
                          SECRET] + [str(x) for x in rest])

    def greeted(self, timeout=600):
        """Seconds (monotonic) at which the bot's log says it has greeted
        every subscriber (its last probe sent), polled every 0.1 s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "greeted " in self.bot.read_log().split("started for")[-1]:
                return time.monotonic()
            if self.bot.proc.poll() is not None:
                raise RuntimeError("starling exited: " + self.bot.read_log()[-2000:])
            time.sleep(0.1)
        raise RuntimeError("the bot greeted nobody within %d s" % timeout)


def component_sizes():
    small = "100,1000" if os.environ.get("BENCH_SMALL") == "1" else "1000,5000,20000"
    return [int(x) for x in os.environ.get("BENCH_COMPONENT", small).split(",")]


def case_component():
    """Component mode: fan-out of one post to N online subscribers (who
    follow the poster) and the bot's CPU per delivery, against the floor
    component sending the same messages over the same server in the same
    run.  The server holds a descriptor per client: where the limit on
    open files is below N and cannot be raised, the last few subscribers
    stay offline (their updates are held) and the figures count the
    online ones."""
    import resource
    reps = int(os.environ.get("BENCH_COMPONENT_REPS", "5"))
    for n in component_sizes():
        raise_nofile(65536)
        room = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 64
        online = min(n, room)
        with Scratch() as sc:
            tmp = sc.tmp
            db = component_store(os.path.join(tmp, "component.db"), n + 1, n)
            rig = sc.rig = ComponentRig(tmp, n + 1, db, unlimited=["u%d@localhost" % (n + 1)])
            rig.start_bot()
            rig.greeted()
            settle(rig.bot.proc.pid, rig.prosody.proc.pid)
            t = time.monotonic()
            # Their initial presence reaches the bot through their rosters.
            load = rig.load(1, online).ready(timeout=1800)
            login = time.monotonic() - t
            poster = rig.poster(n + 1)
            poster.expect("ready")
            body = "u%d: %s (#%d)" % (n + 1, TEXT, 1)
            floor = rig.floor_component("u", 1, online, harness.DOMAIN, 1, body)
            floor.expect("ready")
            settle(rig.bot.proc.pid, rig.prosody.proc.pid, timeout=300)
            paired_fanout(rig, floor, poster, load, reps, "component", n, online,
                          "component: %d subscribers, %d online (logged in in %.1f s)%s" % (
                              n, online, login, "" if online == n else
                              ": the limit on open files allows no more"), to=SERVICE,
                          floor_to=FLOOR_DOMAIN)


def big_sizes():
    """(subscribers, online) of the start-up and big-post cases."""
    if os.environ.get("BENCH_SMALL") == "1":
        return 10000, 1000
    return 100000, 5000


def io_written(pid):
    """Bytes the process has caused to be written to storage so far."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def store_bytes(db):
    return sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))


class Admin:
    """The admin's client (slixmpp), who asks the bot for its stats."""

    def __init__(self, rig, n):
        self.c = harness.Client(rig.prosody, "u%d" % n, create=False).connect()

    def online(self):
        """The bot's count of users online, from its stats; None when no
        answer came within self.timeout (lost with a dropped stream)."""
        self.c.send("stats", to=SERVICE)
        try:
            body = self.c.wait(lambda m: (m["body"] or "").startswith("users "),
                               timeout=self.timeout)["body"]
        except AssertionError:
            return None
        return int(re.search(r"online (\d+)", body).group(1))

    timeout = 60  # for one answer

    def wait_online(self, n, timeout=900):
        """Until the bot counts n online, polling every 0.25 s (again when
        an answer does not come): (monotonic time the last poll that
        counted fewer was sent, the count it got, time the first poll
        that counted n was sent, time its answer came).  An answer that
        came late may be taken for a later poll's: the time it came is
        the one to trust."""
        deadline = time.monotonic() + timeout
        before, count = None, None
        while time.monotonic() < deadline:
            t = time.monotonic()
            got = self.online()
            if got is not None and got >= n:
                return before, count, t, time.monotonic()
            if got is not None:
                before, count = t, got
            time.sleep(0.25)
        raise RuntimeError("the bot did not count %d users online within %d s" % (n, timeout))

    def close(self):
        self.c.disconnect()


def big_rig(sc, users, online, followers=0):
    """users subscribers u1..u<users> in the store and on the server, of
    whom u1..u<online> are online as load clients and u<users>, an admin,
    through slixmpp (online before the bot starts); u1..u<followers> follow
    u<users>.  Returns the rig, the load, the admin (the bot not started)."""
    db = os.path.join(sc.tmp, "big.db")
    print("seeding: " + fresh_store(db, users), flush=True)
    if followers:
        sql(db, "INSERT INTO follows (follower, followee, created) "
                "SELECT id, %d, 1 FROM users WHERE id <= %d" % (users, followers))
    rig = sc.rig = ComponentRig(sc.tmp, users, db, unlimited=["u%d@localhost" % users],
                                admin="u%d@localhost" % users)
    t = time.monotonic()
    load = rig.load(1, online).ready(timeout=1200)
    admin = Admin(rig, users)
    rig.procs.append(admin)
    print("(%d clients logged in in %.1f s)" % (online + 1, time.monotonic() - t), flush=True)
    return rig, load, admin


def case_startup():
    """Component mode, a store of 100,000 subscribers, 5,000 of them
    online (load clients, plus the admin who asks): the bot's time from
    exec to READY=1, to when it counts every online subscriber (its
    stats, asked every 0.25 s by the admin); how often it connected and
    greeted everyone meanwhile (its log); its peak RSS."""
    users, online = big_sizes()
    with Scratch() as sc:
        rig, load, admin = big_rig(sc, users, online)
        settle(rig.prosody.proc.pid, timeout=300)
        print("(bot started at %s UTC)" % time.strftime("%H:%M:%S", time.gmtime()), flush=True)
        t0 = time.monotonic()
        rig.bot.start(wait_ready=False)
        rig.bot.wait_notify("READY=1", 300)
        ready = time.monotonic() - t0
        limit = float(os.environ.get("BENCH_TIMEOUT", "900"))
        try:
            before, count, asked, seen = admin.wait_online(online + 1, timeout=limit)
            counted = ("all %d online counted by %.1f s (stats asked at %.1f s, answered then; "
                       "the poll before, asked at %s s, counted %s)"
                       % (online + 1, seen - t0, asked - t0,
                          "-" if before is None else "%.1f" % (before - t0), count))
        except (RuntimeError, AssertionError) as e:
            counted = "NOT all %d online counted within %.0f s (%s)" % (
                online + 1, limit, str(e).split(";")[0])
        m = status_kib(rig.bot.proc.pid)
        log = rig.bot.read_log()
        greeted = log.count("greeted ")
        links = log.count("connected as component")
        print("startup %s subscribers, %d online: READY=1 %.2f s after exec; %s; the bot "
              "connected %d times and greeted everyone %d times by %.1f s; bot CPU %.1f s, "
              "server CPU %.1f s so far" % (
                  "{:,}".format(users), online, ready, counted, links, greeted,
                  time.monotonic() - t0, cpu_seconds(rig.bot.proc.pid),
                  cpu_seconds(rig.prosody.proc.pid)), flush=True)
        print("startup peak RSS %.1f MiB (now %.1f MiB: %.1f anonymous, %.1f file-backed)"
              % (m["VmHWM"] / 1024, m["VmRSS"] / 1024, m["RssAnon"] / 1024, m["RssFile"] / 1024),
              flush=True)
        for line in log.splitlines():
            if "greeted" in line or "ready:" in line or "warning" in line:
                print("  bot log: " + line.strip(), flush=True)


def case_bigpost():
    """Component mode: a post of u<N+1> to N = 100,000 followers, 5,000 of
    them online: time to "Posted #N." at the poster, bytes the bot wrote
    to storage for it, time until every online follower has it."""
    followers, online = big_sizes()
    with Scratch() as sc:
        rig, load, admin = big_rig(sc, followers + 1, online, followers)
        rig.bot.start(timeout=300)
        admin.wait_online(online + 1)
        rig.greeted()
        settle(rig.bot.proc.pid, rig.prosody.proc.pid, timeout=900)
        db = rig.bot.db
        load.arm(1)
        w0, s0, c0 = io_written(rig.bot.proc.pid), store_bytes(db), cpu_seconds(rig.bot.proc.pid)
        t0 = time.time()
        admin.c.send("big post: " + TEXT, to=SERVICE)
        body = admin.c.wait(lambda m: (m["body"] or "").startswith("Posted #"), timeout=600)["body"]
        posted = time.time() - t0
        last = load.last_receipt(timeout=900) - t0
        settle(rig.bot.proc.pid, timeout=900)
        idle = time.time() - t0
        w1, s1, c1 = io_written(rig.bot.proc.pid), store_bytes(db), cpu_seconds(rig.bot.proc.pid)
        rows = sqlite_rows(db, "SELECT state, COUNT(*) FROM outbox GROUP BY state")
        links = rig.bot.read_log().count("connected as component")
        print("bigpost to %s followers, %d online: \"%s\" after %.2f s; all %d online had it "
              "after %.2f s; bot idle after %.2f s, %.2f s of bot CPU (the bot connected %d "
              "times before the post)"
              % ("{:,}".format(followers), online, body, posted, online, last, idle, c1 - c0,
                 links), flush=True)
        print("bigpost store writes: %.1f MiB written by the bot (/proc/PID/io write_bytes, "
              "post to idle), database+WAL grew %.1f MiB; outbox rows afterwards by state: %s"
              % ((w1 - w0) / 2**20, (s1 - s0) / 2**20,
                 ", ".join("%s: %d" % r for r in rows)), flush=True)


def sqlite_rows(db, query):
    import sqlite3
    con = sqlite3.connect(db)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


CASES = {"fanout": case_fanout, "ingest": case_ingest, "size": case_size,
         "memory": case_memory, "backlog": case_backlog, "component": case_component,
         "startup": case_startup, "bigpost": case_bigpost}


def case_scale(name):
    """The join and cluster cases live in scale.py (which imports this)."""
    import scale
    return getattr(scale, "case_" + name)()


CASES["join"] = lambda: case_scale("join")
CASES["cluster"] = lambda: case_scale("cluster")


def main():
    wanted = os.environ.get("BENCH_CASES", ",".join(CASES)).split(",")
    failed = 0
    for name in wanted:
        if name not in CASES:
            print("bench: unknown case %s" % name)
            failed += 1
            continue
        try:
            CASES[name]()
        except Exception as e:  # a case that could not run
            print("bench: case %s could not run: %s" % (name, e))
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
