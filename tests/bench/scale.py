"""make bench's scale cases (BENCH_CASES=join,cluster), registered in
bench.py's CASES table:

  join     N users join from nothing, through the server: no roster written
           beforehand, no user in the store.  Every load client subscribes
           to the bot, approves the bot's request back, answers the welcome
           with "help" and waits for the answer.  Reported per mode
           (component, client) and size: subscriptions per second (N over
           the time from the first request to the last welcome), the time
           to the last answer, and the share of a core the bot, the server
           and the load clients used meanwhile, which says which side
           saturates.  A size that does not finish within its time (no
           progress for BENCH_JOIN_STALL s, or BENCH_JOIN_TIMEOUT s in
           all) is reported as far as it got.
           BENCH_JOIN="component:1000,5000,19000;client:1000,5000"; the
           server is Prosody with SQL rosters (as the other cases), or in
           mode "cluster" (cluster:20000) two joined ejabberd nodes with
           the users spread over them and the bot connected to both (mode
           "client-cluster": the same in client mode, the bot logged in on
           the first node, its roster in ejabberd's Mnesia); the bot
           build/starling-join (the per-domain subscription budget lifted:
           every load client is on one domain).  BENCH_JOIN_WAVES=1 starts
           the load processes' joins one after the other (BENCH_JOIN_PER
           clients each, default 800), each once the one before has its
           welcomes, instead of all at once.
  cluster  Fan-out of one post to N online followers with the bot in
           component mode on one ejabberd node vs on two joined nodes (the
           bot connected to each; the followers spread over the nodes),
           each against the floor component sender on the same server(s)
           in the same run.  BENCH_CLUSTER=N (default 5000).

A Prosody process holds every client connection: with this machine's
hard limit of 20,000 open files a process, one Prosody takes at most
about 19,900 clients.
"""
import os
import statistics
import threading
import time

import bench
import harness

JOIN_BIN = os.path.join(harness.ROOT, "build", "starling-join")
SERVICE = "updates." + harness.DOMAIN
SECRET = "bench-Secret-1"
FLOOR_DOMAIN = "floor." + harness.DOMAIN
FLOOR_SECRET = "bench-Secret-2"
FIRST_COMMAND = "help"
CLUSTER_PER_PROCESS = 250


class JoinBot(harness.Bot):
    """The bot built without the per-domain subscription budget."""

    def command(self):
        return [JOIN_BIN, "-c", self.conf]


def component_config(bot_dir, port, nodes=(), posts_per_minute=10000):
    extra = ""
    if nodes:
        extra = "  nodes = [ %s ];\n" % ", ".join('"127.0.0.1:%d"' % p for p in nodes)
    return """xmpp: { mode = "component"; };
component: {
  domain = "%s";
  secret = "%s";
  host = "127.0.0.1";
  port = %d;
%s};
storage: { path = "%s"; };
bot: { posts_per_minute = %d; };
log: { level = "info"; };
""" % (SERVICE, SECRET, port, extra, os.path.join(bot_dir, "starling.db"), posts_per_minute)


class Lines:
    """Every line a bench.Proc prints from now on, read by a thread (the
    "welcomed"/"answered" lines come whenever they come)."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        for line in self.proc.p.stdout:
            with self.lock:
                self.lines.append(line.split())

    def take(self, word):
        """The first line starting with word seen so far (removed), or None."""
        with self.lock:
            for i, w in enumerate(self.lines):
                if w and w[0] == word:
                    return self.lines.pop(i)
        return None

    def wait(self, word, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            w = self.take(word)
            if w is not None:
                return w
            time.sleep(0.02)
        raise RuntimeError("no %r from load within %s s" % (word, timeout))


def load_procs(server, first, last, presence_to=None, per=bench.PER_PROCESS):
    """bench.Proc load processes for u<first>..u<last> on server (a
    Prosody or an ejabberd node), per clients each."""
    procs = []
    for a in range(first, last + 1, per):
        b = min(last, a + per - 1)
        args = [bench.LOAD, "127.0.0.1", str(server.port), harness.DOMAIN, harness.PASSWORD,
                "u", str(a), str(b)] + ([presence_to] if presence_to else [])
        procs.append(bench.Proc(args, server.ca_file))
    return procs


def process_sched(pid):
    """Seconds every thread of a process spent on a CPU, and runnable but
    waiting for one (bench.cpu_seconds reads the main thread's only:
    ejabberd's work is on its schedulers')."""
    run = wait = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                v = f.read().split()
            run += int(v[0])
            wait += int(v[1])
        except OSError:
            pass  # a thread that just ended
    return run / 1e9, wait / 1e9


def process_cpu(pid):
    return process_sched(pid)[0]


def waits_of(pids):
    out = []
    for p in pids:
        try:
            out.append(process_sched(p)[1])
        except OSError:
            out.append(0.0)
    return out


def settle(*pids, quiet=0.02, timeout=60):
    """bench.settle over every thread of each process."""
    deadline = time.monotonic() + timeout
    before = cpu_of(pids)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = cpu_of(pids)
        if all(b - a <= quiet for a, b in zip(before, now)):
            return
        before = now
    raise RuntimeError("still busy after %d s" % timeout)


def cpu_of(pids):
    out = []
    for p in pids:
        try:
            out.append(process_cpu(p))
        except OSError:
            out.append(0.0)
    return out


def join_sizes():
    spec = os.environ.get("BENCH_JOIN")
    if spec is None:
        spec = ("component:1000;client:1000" if os.environ.get("BENCH_SMALL") == "1"
                else "component:1000,5000,19000;client:1000,5000")
    out = []
    for part in spec.split(";"):
        mode, _, sizes = part.partition(":")
        out += [(mode.strip(), int(n)) for n in sizes.split(",") if n.strip()]
    return out


def join_once(mode, n):
    stall = float(os.environ.get("BENCH_JOIN_STALL", "60"))
    limit = float(os.environ.get("BENCH_JOIN_TIMEOUT", str(max(300, n / 20))))
    with bench.Scratch() as sc:
        tmp = sc.tmp
        cluster = None
        if mode in ("cluster", "client-cluster"):
            # Two joined ejabberd nodes, the users spread over them: each
            # node holds half the connections (a process here holds at
            # most 20,000 files).  The bot a component connected to both,
            # or (client-cluster) the client-mode bot, logged in on the
            # first.
            cluster = harness.Cluster(tmp, nodes=2)
            servers = cluster.nodes
            if mode == "cluster":
                ports = cluster.add_component(SERVICE, SECRET)
            servers[0].add_users(["u%d" % i for i in range(1, n + 1)])
        else:
            servers = [harness.Prosody(tmp, roster_sql=True)]
        d = os.path.join(tmp, "starling")
        os.makedirs(d, exist_ok=True)
        if mode == "cluster":
            bot = JoinBot(servers[0], tmp, config=component_config(d, ports[0], ports[1:]))
            target = SERVICE
        elif mode == "component":
            port = servers[0].add_component(SERVICE, SECRET)
            bot = JoinBot(servers[0], tmp, config=component_config(d, port))
            target = SERVICE
        else:
            bot = JoinBot(servers[0], tmp, bot_section="posts_per_minute = 10000;")
            target = harness.BOT
        if cluster is None:
            for i in range(1, n + 1):
                servers[0].add_user("u%d" % i)
        procs = []

        class Rig:  # what Scratch closes
            def close(self):
                for p in reversed(procs):
                    p.close()
                try:
                    bot.stop()
                finally:
                    if cluster is not None:
                        cluster.stop()
                    else:
                        servers[0].stop()
        sc.rig = Rig()
        if cluster is not None:
            cluster.start(timeout=300)
        else:
            servers[0].start()
        bot.start(timeout=60)
        t = time.monotonic()
        # Each load process has ten logins under way: more processes
        # than ejabberd's two nodes answer in time make logins fail.
        per = int(os.environ.get("BENCH_JOIN_PER", bench.PER_PROCESS))
        half = (n + len(servers) - 1) // len(servers)
        for k, srv in enumerate(servers):
            procs += load_procs(srv, k * half + 1, min(n, (k + 1) * half), per=per)
        for p in procs:
            p.expect("ready", 900)
        login = time.monotonic() - t
        server_pids = [srv.proc.pid for srv in servers]
        settle(bot.proc.pid, *server_pids, timeout=120)
        readers = [Lines(p) for p in procs]
        pids = [bot.proc.pid] + server_pids

        def pair(v):  # the bot's, and the servers' together
            return [v[0], sum(v[1:])]
        load_pids = [p.p.pid for p in procs]
        c0, l0 = pair(cpu_of(pids)), sum(cpu_of(load_pids))
        w0 = pair(waits_of(pids))
        # All at once, or with BENCH_JOIN_WAVES=1 one load process after
        # the other (each once the previous one has all its welcomes).
        waves = os.environ.get("BENCH_JOIN_WAVES") == "1"
        started = len(procs) if not waves else 1
        for p in procs[:started]:
            p.send("join %s %s" % (target, FIRST_COMMAND))
        t0 = min(float(r.wait("joining", 60)[1]) for r in readers[:started])
        start = time.monotonic()
        welcomed_t, answered_t = [None] * len(procs), [None] * len(procs)
        samples = []  # (seconds since start, welcomed, answered, bot cpu, server cpu, load cpu)
        last_change, last_counts = start, None
        prev = (start, c0, l0, w0)
        verbose = os.environ.get("BENCH_VERBOSE") == "1"
        while True:
            time.sleep(2.0)
            for i, r in enumerate(readers):
                w = r.take("welcomed")
                if w:
                    welcomed_t[i] = float(w[2])
                a = r.take("answered")
                if a:
                    answered_t[i] = float(a[2])
                procs[i].send("progress")
            if started < len(procs) and welcomed_t[started - 1] is not None:
                procs[started].send("join %s %s" % (target, FIRST_COMMAND))
                started += 1
            counts = [r.wait("progress", 30)[1:3] for r in readers]
            wel = sum(int(c[0]) for c in counts)
            ans = sum(int(c[1]) for c in counts)
            now = time.monotonic()
            c, ld, w = pair(cpu_of(pids)), sum(cpu_of(load_pids)), pair(waits_of(pids))
            dt = now - prev[0]
            samples.append((now - start, wel, ans, (c[0] - prev[1][0]) / dt,
                            (c[1] - prev[1][1]) / dt, (ld - prev[2]) / dt))
            if verbose:
                print("  %6.1f s: welcomed %d answered %d; CPU bot %3.0f%% server %3.0f%% "
                      "load %3.0f%%; waiting for a CPU: bot %3.0f%% server %3.0f%%"
                      % (samples[-1][0], wel, ans, samples[-1][3] * 100, samples[-1][4] * 100,
                         samples[-1][5] * 100, (w[0] - prev[3][0]) / dt * 100,
                         (w[1] - prev[3][1]) / dt * 100), flush=True)
            prev = (now, c, ld, w)
            if (wel, ans) != last_counts:
                last_counts, last_change = (wel, ans), now
            if ans == n and all(x is not None for x in answered_t):
                break
            if now - last_change > stall or now - start > limit:
                break
        elapsed = time.monotonic() - start
        c1, l1 = pair(cpu_of(pids)), sum(cpu_of(load_pids))
        w1 = pair(waits_of(pids))
        # Shares of a core over the whole join (to the last answer, or
        # to the end of the wait when it did not finish).
        bot_share = (c1[0] - c0[0]) / elapsed
        srv_share = (c1[1] - c0[1]) / elapsed
        load_share = (l1 - l0) / elapsed
        peak = max(samples, key=lambda s: s[3] + s[4])
        result = {"mode": mode, "n": n, "login": login, "welcomed": last_counts[0],
                  "answered": last_counts[1], "elapsed": elapsed,
                  "bot_cpu": c1[0] - c0[0], "server_cpu": c1[1] - c0[1], "load_cpu": l1 - l0,
                  "bot_share": bot_share, "server_share": srv_share, "load_share": load_share,
                  "peak": peak, "bot_wait": (w1[0] - w0[0]) / elapsed,
                  "server_wait": (w1[1] - w0[1]) / elapsed,
                  "loadavg": open("/proc/loadavg").read().split()[0]}
        if all(x is not None for x in welcomed_t):
            result["t_welcomed"] = max(welcomed_t) - t0
        if all(x is not None for x in answered_t):
            result["t_answered"] = max(answered_t) - t0
        if mode == "client":
            result["roster_db"] = os.path.getsize(os.path.join(servers[0].dir, "data", "roster.sqlite")) \
                if os.path.exists(os.path.join(servers[0].dir, "data", "roster.sqlite")) else 0
        bot_log = bot.read_log()
        result["bot_warnings"] = [l for l in bot_log.splitlines()
                                  if (" warn" in l.lower() or "error" in l.lower()) and "vCard" not in l][:5]
        return result


def report_join(r):
    n = r["n"]
    print("(%s mode, %d users logged in in %.1f s)" % (r["mode"], n, r["login"]), flush=True)
    if "t_answered" in r:
        print("join %s %d: %.0f subscriptions/s (last welcome at %.1f s), last answer at %.1f s; "
              "CPU while joining: bot %.0f%%, server %.0f%%, load clients %.0f%% of a core "
              "(bot %.1f s, server %.1f s in all)"
              % (r["mode"], n, n / r["t_welcomed"], r["t_welcomed"], r["t_answered"],
                 r["bot_share"] * 100, r["server_share"] * 100, r["load_share"] * 100,
                 r["bot_cpu"], r["server_cpu"]), flush=True)
    else:
        print("join %s %d: did not finish: after %.0f s %d welcomed, %d answered "
              "(%.1f subscriptions/s); CPU while joining: bot %.0f%%, server %.0f%%, "
              "load clients %.0f%% of a core (bot %.1f s, server %.1f s in all)"
              % (r["mode"], n, r["elapsed"], r["welcomed"], r["answered"],
                 r["welcomed"] / r["elapsed"], r["bot_share"] * 100, r["server_share"] * 100,
                 r["load_share"] * 100, r["bot_cpu"], r["server_cpu"]), flush=True)
    if r["bot_warnings"]:
        print("  bot log: " + " | ".join(r["bot_warnings"]), flush=True)
    print("  CPU per user (over all %d requests): bot %.2f ms, server %.2f ms" % (
        n, r["bot_cpu"] / n * 1e3, r["server_cpu"] / n * 1e3), flush=True)
    print("  runnable but waiting for a CPU meanwhile: bot %.0f%%, server %.0f%% of the time "
          "(load average %s)" % (r["bot_wait"] * 100, r["server_wait"] * 100, r["loadavg"]),
          flush=True)
    p = r["peak"]
    print("  busiest 2 s at %.0f s: bot %.0f%%, server %.0f%%, load %.0f%% of a core"
          % (p[0], p[3] * 100, p[4] * 100, p[5] * 100), flush=True)


def case_join():
    results = {}
    for mode, n in join_sizes():
        r = join_once(mode, n)
        report_join(r)
        results[(mode, n)] = r
    client_of = {"component": "client", "cluster": "client-cluster"}
    for (mode, n), r in sorted(results.items()):
        other = results.get((client_of.get(mode), n))
        if other is not None and "t_answered" in r:
            if "t_answered" in other:
                print("join %d: %s %.1f s vs %s %.1f s to the last answer = %.2fx"
                      % (n, mode, r["t_answered"], other["mode"], other["t_answered"],
                         r["t_answered"] / other["t_answered"]), flush=True)
            else:
                print("join %d: %s %.1f s to the last answer; %s did not finish "
                      "(%d of %d answered after %.0f s)"
                      % (n, mode, r["t_answered"], other["mode"], other["answered"], n,
                         other["elapsed"]), flush=True)


# cluster ------------------------------------------------------------------

def component_store(db, n):
    """u1..u<n> follow u<n+1>, all active (as joining makes them)."""
    bench.fresh_store(db, n + 1)
    bench.sql(db, "INSERT INTO follows (follower, followee, created) "
                  "SELECT id, %d, 1 FROM users WHERE id <= %d" % (n + 1, n))


def wait_log(bot, text, timeout):
    deadline = time.monotonic() + timeout
    while True:
        log = bot.read_log().split("started for")[-1]
        if text(log):
            return log
        if time.monotonic() > deadline:
            raise RuntimeError("bot log: condition not met within %s s:\n%s" % (timeout, log[-2000:]))
        time.sleep(0.2)


def cluster_once(nodes, n, reps):
    with bench.Scratch() as sc:
        tmp = sc.tmp
        if nodes == 1:
            servers = [harness.Ejabberd(tmp, unlimited=["u%d@localhost" % (n + 1)])]
            bot_ports = [servers[0].add_component(SERVICE, SECRET)]
            floor_ports = [servers[0].add_component(FLOOR_DOMAIN, FLOOR_SECRET)]
            cluster = None
        else:
            cluster = harness.Cluster(tmp, nodes=nodes, unlimited=["u%d@localhost" % (n + 1)])
            servers = cluster.nodes
            bot_ports = cluster.add_component(SERVICE, SECRET)
            floor_ports = cluster.add_component(FLOOR_DOMAIN, FLOOR_SECRET)
        servers[0].add_users(["u%d" % i for i in range(1, n + 2)])
        d = os.path.join(tmp, "starling")
        os.makedirs(d, exist_ok=True)
        bot = harness.Bot(servers[0], tmp, config=component_config(d, bot_ports[0], bot_ports[1:]))
        procs = []

        class Rig:
            def close(self):
                for p in reversed(procs):
                    p.close()
                try:
                    bot.stop()
                finally:
                    if cluster is not None:
                        cluster.stop()
                    else:
                        servers[0].stop()
        sc.rig = Rig()
        t = time.monotonic()
        if cluster is not None:
            cluster.start(timeout=300)
        else:
            servers[0].start(timeout=300)
        setup = time.monotonic() - t
        # The store first (the bot creates it), then its users.
        bot.start(timeout=60)
        bot.stop()
        component_store(bot.db, n)
        bot.notifications = []
        bot.start(timeout=120)
        wait_log(bot, lambda log: log.count("connected as component") >= nodes, 60)
        wait_log(bot, lambda log: "greeted %d subscribers" % (n + 1) in log or
                 "greeted %d subscribers" % n in log, 600)
        # Followers spread over the nodes (u1 on node 0, u2 on node 1...):
        # whole load processes per node, so each process has one port.
        t = time.monotonic()
        loads = []
        per_node = (n + nodes - 1) // nodes
        for k in range(nodes):
            a, b = k * per_node + 1, min(n, (k + 1) * per_node)
            ld = bench.Load.__new__(bench.Load)
            # Smaller processes log in faster on ejabberd (each has ten
            # logins under way at a time, and a login there takes long).
            ld.procs = load_procs(servers[k], a, b, presence_to=SERVICE, per=CLUSTER_PER_PROCESS)
            ld.sizes = [min(b, x + CLUSTER_PER_PROCESS - 1) - x + 1
                        for x in range(a, b + 1, CLUSTER_PER_PROCESS)]
            ld.expected = []
            loads.append(ld)
            procs.append(ld)
        for ld in loads:
            ld.ready(900)
        login = time.monotonic() - t
        load = bench.Load.__new__(bench.Load)
        load.procs = [p for ld in loads for p in ld.procs]
        load.sizes = [s for ld in loads for s in ld.sizes]
        load.expected = []
        poster = bench.Proc([bench.LOAD, "127.0.0.1", str(servers[0].port), harness.DOMAIN,
                             harness.PASSWORD, "u", str(n + 1), str(n + 1)], servers[0].ca_file)
        procs.append(poster)
        poster.expect("ready")
        body = "u%d: %s (#%d)" % (n + 1, bench.TEXT, 1)
        floor = bench.Proc([bench.FLOOR, "component", "127.0.0.1",
                            ",".join(str(p) for p in floor_ports), FLOOR_DOMAIN, FLOOR_SECRET,
                            "u", "1", str(n), harness.DOMAIN, "1", body], servers[0].ca_file)
        procs.append(floor)
        floor.expect("ready")
        if cluster is not None:
            time.sleep(3)  # every node learns of the sessions on the others
        server_pids = [s.proc.pid for s in servers]

        def srv_cpu():
            return sum(cpu_of(server_pids))

        def run_bot(text):
            load.arm(1)
            c0, s0 = process_cpu(bot.proc.pid), srv_cpu()
            poster.send("send %s 1 %s" % (SERVICE, text))
            t0 = float(poster.expect("sent")[1])
            last = load.last_receipt()
            time.sleep(0.3)
            return last - t0, process_cpu(bot.proc.pid) - c0, srv_cpu() - s0

        def run_floor():
            load.arm(1)
            c0, s0 = floor.cpu(), srv_cpu()
            # Told by a post through the server, as the bot is.
            poster.send("send %s 1 go" % FLOOR_DOMAIN)
            t0 = float(poster.expect("sent")[1])
            floor.expect("sent")
            last = load.last_receipt()
            time.sleep(0.3)
            return last - t0, floor.cpu() - c0, srv_cpu() - s0

        # Warm-up: also proves the bot knows every follower online.
        run_bot("warm-up " + bench.TEXT)
        run_floor()
        bt, bc, bs, ft, fc, fs = [], [], [], [], [], []
        for _ in range(reps):
            a, b, c = run_floor()
            ft.append(a)
            fc.append(b)
            fs.append(c)
            settle(bot.proc.pid, *server_pids, quiet=0.05)
            a, b, c = run_bot(bench.TEXT)
            bt.append(a)
            bc.append(b)
            bs.append(c)
            settle(bot.proc.pid, *server_pids, quiet=0.05)
        return {"nodes": nodes, "n": n, "setup": setup, "login": login, "bot_t": bt,
                "bot_c": bc, "bot_s": bs, "floor_t": ft, "floor_c": fc, "floor_s": fs}


def case_cluster():
    n = int(os.environ.get("BENCH_CLUSTER", "1000" if os.environ.get("BENCH_SMALL") == "1" else "5000"))
    reps = int(os.environ.get("BENCH_CLUSTER_REPS", "5"))
    med = statistics.median
    rates = {}
    for nodes in (1, 2):
        r = cluster_once(nodes, n, reps)
        print("(%d ejabberd node%s: up with %d accounts in %.1f s, %d followers logged in in "
              "%.1f s; medians of %d paired runs)" % (
                  nodes, "" if nodes == 1 else "s", n + 1, r["setup"], n, r["login"], reps),
              flush=True)
        bench.ratio_line("cluster %d node%s fan-out %d" % (nodes, "" if nodes == 1 else "s", n),
                         r["bot_t"], r["floor_t"])
        print("  runs (s): bot %s; floor %s" % (
            " ".join("%.3f" % x for x in r["bot_t"]), " ".join("%.3f" % x for x in r["floor_t"])),
            flush=True)
        rates[nodes] = (n / med(r["bot_t"]), n / med(r["floor_t"]))
        print("cluster %d node%s: %.0f deliveries/s vs floor component %.0f/s; CPU per delivery: "
              "bot %.1f us, floor %.1f us; server CPU per delivery %.1f us with the bot, "
              "%.1f us with the floor" % (
                  nodes, "" if nodes == 1 else "s", rates[nodes][0], rates[nodes][1],
                  med(r["bot_c"]) / n * 1e6, med(r["floor_c"]) / n * 1e6,
                  med(r["bot_s"]) / n * 1e6, med(r["floor_s"]) / n * 1e6), flush=True)
    print("cluster: deliveries/s on 2 nodes vs 1 node: bot %.2fx, floor %.2fx"
          % (rates[2][0] / rates[1][0], rates[2][1] / rates[1][1]), flush=True)
