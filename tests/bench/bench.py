"""make bench: Starling's performance against baselines measured in the
same run, on a private Prosody (bot exempted with unlimited_jids).

Cases (BENCH_CASES, comma-separated; default all that exist):
  size   every command's latency at a store of 100,000 users / 1,000,000
         posts / 2,000,000 follows vs at a small store (BENCH_SMALL=1 uses
         10,000 / 100,000 / 200,000).
One line per case and command, the ratio last as R.RRx.  Exits non-zero
only when a case could not run.
"""
import os
import shutil
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

COMMANDS = [
    "help", "last", "last u2 20", "whois u2", "followers", "following",
    "mentions", "search garden tea", "show #1", "follow u7", "unfollow u7",
    "track garden", "untrack garden", "tracking", "stats", "post hello",
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


CASES = {"size": case_size}


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
