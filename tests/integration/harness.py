"""Test harness: a private Prosody, the Starling binary and slixmpp clients.

Everything runs on loopback in a temporary directory: Prosody gets its own
CA and a certificate for "localhost" that the bot verifies; accounts are
written as files (internal_plain); the bot reports readiness through a
NOTIFY_SOCKET the harness owns.  Clients are real slixmpp connections,
each with its own asyncio loop in a thread, wrapped in a synchronous API
for plain pytest tests.  Used by the integration tests, the demo and the
benchmarks.
"""
import asyncio
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOMAIN = "localhost"
BOT = "bot@" + DOMAIN
PASSWORD = "pw-Secret-42"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, **kw)


def make_ca(dirname, name):
    """A CA key and certificate in dirname: (key, cert)."""
    os.makedirs(dirname, exist_ok=True)
    key, crt = os.path.join(dirname, name + ".key"), os.path.join(dirname, name + ".pem")
    if not os.path.exists(crt):
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
             "-out", crt, "-days", "30", "-subj", "/CN=" + name])
    return key, crt


def make_cert(dirname, ca, name="localhost"):
    """A key and certificate for name signed by ca: (key, cert)."""
    key, crt = os.path.join(dirname, name + ".key"), os.path.join(dirname, name + ".crt")
    csr, ext = crt + ".csr", crt + ".ext"
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
         "-out", csr, "-subj", "/CN=" + name])
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s,IP:127.0.0.1\n" % name)
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey",
         ca[0], "-CAcreateserial", "-out", crt, "-days", "30", "-extfile", ext])
    return key, crt


def escape(name):
    """Prosody's file-name escaping: every non-alphanumeric byte as %xx."""
    return "".join(c if c.isalnum() else "%%%02x" % ord(c) for c in name)


class Prosody:
    """A private Prosody 0.12 on a free loopback port."""

    def __init__(self, tmpdir, limits_unlimited=True, roster_sql=False,
                 ca_name="Starling Test CA", extra="", unlimited=()):
        self.dir = os.path.join(str(tmpdir), "prosody")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.port = free_port()
        certs = os.path.join(self.dir, "certs")
        self.ca = make_ca(certs, ca_name.replace(" ", "_"))
        self.key, self.cert = make_cert(certs, self.ca)
        self.ca_file = self.ca[1]
        self.proc = None
        self.config = os.path.join(self.dir, "prosody.cfg.lua")
        limits = 'limits = { c2s = { rate = "10kb/s" }; s2sin = { rate = "30kb/s" } }\n'
        exempt = ([BOT] if limits_unlimited else []) + list(unlimited)
        if exempt:
            limits += "unlimited_jids = { %s }\n" % "; ".join('"%s"' % j for j in exempt)
        storage = ""
        if roster_sql:
            storage = ('storage = { roster = "sql" }\n'
                       'sql = { driver = "SQLite3", database = "roster.sqlite" }\n')
        root = "run_as_root = true\n" if os.geteuid() == 0 else ""
        with open(self.config, "w") as f:
            f.write(f"""{root}pidfile = "{self.dir}/prosody.pid"
data_path = "{self.dir}/data"
log = {{ info = "{self.dir}/prosody.log" }}
daemonize = false
modules_disabled = {{ "posix" }}
modules_enabled = {{ "roster"; "saslauth"; "tls"; "disco"; "ping"; "limits"; "offline" }}
{limits}{storage}authentication = "internal_plain"
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.port} }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ }}
c2s_require_encryption = true
{extra}
VirtualHost "{DOMAIN}"
  ssl = {{ key = "{self.key}"; certificate = "{self.cert}" }}
""")
        self.add_user("bot")

    def add_user(self, name, password=PASSWORD):
        d = os.path.join(self.dir, "data", escape(DOMAIN), "accounts")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, escape(name) + ".dat"), "w") as f:
            f.write('return { ["password"] = "%s"; };\n' % password)
        return "%s@%s" % (name, DOMAIN)

    def start(self):
        self.proc = subprocess.Popen(
            ["prosody", "--config", self.config],
            stdout=open(os.path.join(self.dir, "stdout.log"), "a"),
            stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("prosody exited: see " + self.dir)
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("prosody did not start")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def kill(self):
        """SIGKILL: the server vanishes without closing its streams."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Bot:
    """build/starling (or $STARLING_BIN) with a config of its own."""

    def __init__(self, prosody, tmpdir, config=None, password=PASSWORD,
                 bot_section=None, delivery=None, log_level="info",
                 ca_file=None, name="starling"):
        self.prosody = prosody
        self.dir = os.path.join(str(tmpdir), name)
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "starling.conf")
        self.db = os.path.join(self.dir, "starling.db")
        self.log = os.path.join(self.dir, "starling.log")
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.proc = None
        self.notifications = []
        if config is None:
            bot = bot_section or 'admins = [ "admin@%s" ];' % DOMAIN
            config = f"""xmpp: {{
  jid = "{BOT}";
  password = "{password}";
  host = "{DOMAIN}";
  port = {prosody.port};
  tls = "required";
  ca_file = "{ca_file or prosody.ca_file}";
}};
storage: {{ path = "{self.db}"; }};
bot: {{ {bot} }};
delivery: {{ {delivery or ''} }};
log: {{ level = "{log_level}"; }};
"""
        with open(self.conf, "w") as f:
            f.write(config)

    def command(self):
        binary = os.environ.get("STARLING_BIN", os.path.join(ROOT, "build", "starling"))
        cmd = [binary, "-c", self.conf]
        if os.environ.get("STARLING_VALGRIND"):
            cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite,indirect",
                   "--log-file=" + self.log + ".valgrind.%p"] + cmd
        return cmd

    def start(self, wait_ready=True, timeout=20, env=None):
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.notify_path)
        e = dict(os.environ)
        e["NOTIFY_SOCKET"] = self.notify_path
        e.update(env or {})
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "a"), env=e)
        if wait_ready:
            self.wait_notify("READY=1", timeout)
        return self

    def wait_notify(self, state, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if state in self.notifications:
                return True
            self.sock.settimeout(0.2)
            try:
                self.notifications.append(self.sock.recv(4096).decode())
                continue
            except socket.timeout:
                pass
            # Only once every datagram it sent has been read.
            if self.proc.poll() is not None:
                raise RuntimeError("starling exited with %s:\n%s" % (self.proc.returncode, self.read_log()[-3000:]))
        raise RuntimeError("no %s from starling within %s s:\n%s" % (state, timeout, self.read_log()[-3000:]))

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        """SIGTERM; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        self.sock.close()
        if os.environ.get("STARLING_VALGRIND"):
            bad = self.valgrind_errors()
            if bad:
                raise AssertionError("valgrind found errors:\n" + bad[0][-4000:])
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.sock.close()

    def restart(self, **kw):
        """SIGTERM, then start again on the same config and database;
        returns the exit code of the stopped run."""
        rc = self.stop()
        self.notifications = []
        self.start(**kw)
        return rc

    def valgrind_errors(self):
        """Valgrind reports of this bot that show errors or leaks."""
        bad = []
        for name in os.listdir(self.dir):
            if name.startswith("starling.log.valgrind."):
                text = open(os.path.join(self.dir, name)).read()
                m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
                if m and int(m.group(1)) > 0:
                    bad.append(text)
        return bad


class Message(dict):
    """A received message: body, from, id, type, delay (stamp or None)."""


def stop_loop(run, loop, thread):
    """Cancel what slixmpp left running on loop, then stop its thread."""
    async def cancel_all():
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    try:
        run(cancel_all(), 5)
    except Exception:
        pass
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


# " · 3m" after a listing line's author (or a follower's nick): how long
# ago, which a test cannot pin down (a slow run turns "now" into "1m").
STAMP = re.compile(r" \u00b7 (now|\d+[mhd]|\d{4}-\d\d-\d\d)(?=:| \(digest\)|$)",
                   re.M)


def unstamp(text):
    """A listing without its " · WHEN" stamps."""
    return STAMP.sub("", text or "")


def is_update(m):
    """An update delivered by the outbox (not a reply to a command)."""
    return (m.get("id") or "").startswith("starling-")


class Client:
    """A slixmpp client driven synchronously from a test."""

    def __init__(self, prosody, name, password=PASSWORD, create=True):
        if create:
            prosody.add_user(name, password)
        self.prosody = prosody
        self.jid = "%s@%s" % (name, DOMAIN)
        self.password = password
        self.inbox = queue.Queue()
        self.seen = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.xmpp = None

    def _run(self, coro, timeout=20):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _call(self, fn, *args, **kw):
        async def wrap():
            return fn(*args, **kw)
        return self._run(wrap())

    def connect(self, presence=True, auto_subscribe=True):

        async def go():
            x = slixmpp.ClientXMPP(self.jid, self.password)
            for p in ("xep_0030", "xep_0092", "xep_0199", "xep_0203"):
                x.register_plugin(p)
            x.ssl_context.load_verify_locations(self.prosody.ca_file)
            x.roster.auto_authorize = auto_subscribe
            x.roster.auto_subscribe = False
            done = asyncio.get_event_loop().create_future()
            x.add_event_handler("session_start", lambda ev: done.done() or done.set_result(True))
            x.add_event_handler("failed_auth", lambda ev: done.done() or done.set_exception(RuntimeError("auth failed")))
            x.add_event_handler("message", self._on_message)
            x.connect(("127.0.0.1", self.prosody.port))
            await asyncio.wait_for(done, 15)
            await x.get_roster()
            if presence:
                x.send_presence()
            self.xmpp = x
        self._run(go())
        return self

    def _on_message(self, m):
        delay = None
        if m.xml.find("{urn:xmpp:delay}delay") is not None:
            delay = m.xml.find("{urn:xmpp:delay}delay").get("stamp")
        self.inbox.put(Message(body=m["body"], frm=str(m["from"]), id=m["id"],
                               type=m["type"], delay=delay))

    def send(self, body, to=BOT, mtype="chat", id=None):
        def go():
            msg = self.xmpp.make_message(mto=to, mbody=body, mtype=mtype)
            if id is not None:
                msg["id"] = id
            msg.send()
        self._call(go)

    def send_raw(self, xml):
        self._call(self.xmpp.send_raw, xml)

    def presence(self, show=None, priority=0, to=None, ptype=None):
        kw = {"ppriority": priority}
        if show:
            kw["pshow"] = show
        if to:
            kw["pto"] = to
        if ptype:
            kw["ptype"] = ptype
        self._call(self.xmpp.send_presence, **kw)

    def offline(self):
        self.presence(ptype="unavailable")

    def subscribe(self, to=BOT):
        self._call(self.xmpp.send_presence, pto=to, ptype="subscribe")

    def unsubscribe(self, to=BOT):
        self._call(self.xmpp.send_presence, pto=to, ptype="unsubscribe")

    def subscription(self, to=BOT):
        return self._call(lambda: self.xmpp.client_roster[to]["subscription"])

    def online(self, jid=BOT):
        """The resources of jid this client currently sees available."""
        return self._call(lambda: sorted(self.xmpp.client_roster.presence(jid)))

    def wait_online(self, jid=BOT, online=True, timeout=10):
        """Until jid is seen available (online=True) or unavailable."""
        deadline = time.time() + timeout
        while bool(self.online(jid)) != online:
            if time.time() > deadline:
                raise AssertionError("%s: %s not %s within %s s" % (
                    self.jid, jid, "online" if online else "offline", timeout))
            time.sleep(0.05)

    def wait(self, match=None, timeout=10):
        """The next message whose body contains match (or matches the
        predicate); earlier non-matching ones are kept in self.seen."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("%s: no message matching %r within %s s; got %r"
                                     % (self.jid, match, timeout, [m["body"] for m in self.seen[-10:]]))
            try:
                m = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            ok = (match is None or (callable(match) and match(m)) or
                  (isinstance(match, str) and match in (m["body"] or "")))
            if ok:
                return m
            self.seen.append(m)

    def drain(self, seconds=0.5):
        """Every message arriving within seconds."""
        got = []
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                got.append(self.inbox.get(timeout=max(0.01, deadline - time.time())))
            except queue.Empty:
                pass
        self.seen.extend(got)
        return got

    def ask(self, body, match=None, timeout=10):
        """Send body to the bot, return the body of its answer (the next
        message that is not an update: updates carry ids starling-*)."""
        self.send(body)
        def answer(m):
            if is_update(m):
                return False
            return match is None or (callable(match) and match(m)) or \
                (isinstance(match, str) and match in (m["body"] or ""))
        return self.wait(answer, timeout)["body"]

    def iq(self, kind, to=BOT + "/starling"):
        """disco / version / ping / unknown: the answer, or the error
        condition as a string."""
        async def go():
            try:
                if kind == "disco":
                    r = await self.xmpp["xep_0030"].get_info(jid=to, timeout=10)
                    return r["disco_info"]
                if kind == "version":
                    r = await self.xmpp["xep_0092"].get_version(to, timeout=10)
                    return r["software_version"]
                if kind == "ping":
                    return await self.xmpp["xep_0199"].send_ping(to, timeout=10)
                iq = self.xmpp.make_iq_get(queryxmlns="urn:example:unknown", ito=to)
                return await iq.send(timeout=10)
            except IqError as e:
                return "error:" + e.iq["error"]["condition"]
        return self._run(go())

    def disconnect(self):
        """Close the stream and stop the loop; safe to call twice (a
        second call must not wait on a loop that no longer runs)."""
        if not self.loop.is_running():
            return
        if self.xmpp is not None:
            async def go():
                self.xmpp.disconnect()
                try:
                    await asyncio.wait_for(self.xmpp.disconnected, 5)
                except Exception:
                    pass
            try:
                self._run(go(), 10)
            except Exception:
                pass
            self.xmpp = None
        stop_loop(self._run, self.loop, self.thread)


def join(prosody, name, welcome=True):
    """A connected client that subscribed to the bot and got its welcome."""
    c = Client(prosody, name).connect()
    c.subscribe()
    if welcome:
        c.wait("Welcome to Starling", timeout=15)
    return c


def roster_file(prosody, owner):
    return os.path.join(prosody.dir, "data", escape(DOMAIN), "roster",
                        escape(owner) + ".dat")


def read_roster(prosody, owner):
    """owner's roster in Prosody's file storage: {bare JID: subscription}."""
    try:
        with open(roster_file(prosody, owner)) as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    items = {}
    starts = list(re.finditer(r'\["([^"]+@[^"]+)"\]\s*=\s*\{', text))
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        sub = re.search(r'subscription"?\]?\s*=\s*"(\w+)"', text[m.end():end])
        items[m.group(1)] = sub.group(1) if sub else "none"
    return items


def write_roster(prosody, owner, items):
    """Replace owner's roster in Prosody's file storage: items maps bare
    JIDs to their subscription.  Prosody must be stopped (it caches
    rosters it has read)."""
    path = roster_file(prosody, owner)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lines = ['return {', '\t[false] = { ["pending"] = {}; ["version"] = 1000; };']
    for jid, sub in items.items():
        lines.append('\t["%s"] = { ["subscription"] = "%s"; ["groups"] = {}; };' % (jid, sub))
    with open(path, "w") as f:
        f.write("\n".join(lines + ["};"]) + "\n")


def add_followers(db, poster, names, prosody=None):
    """Make names (local parts) active users following poster (a local
    part) in the bot's database, as if they had subscribed and said
    "follow POSTER"; with prosody, also contacts in the bot's roster on
    the server, as subscribing makes them (without, the bot's roster
    reconciliation at login makes them inactive again), for which the
    server is restarted.  The bot must be stopped."""
    import sqlite3
    con = sqlite3.connect(db)
    with con:
        pid = con.execute("SELECT id FROM users WHERE jid = ?",
                          ("%s@%s" % (poster, DOMAIN),)).fetchone()[0]
        for n in names:
            cur = con.execute("INSERT INTO users (jid, nick, created) VALUES (?, ?, 1)",
                              ("%s@%s" % (n, DOMAIN), n))
            con.execute("INSERT INTO follows (follower, followee, created) VALUES (?, ?, 1)",
                        (cur.lastrowid, pid))
    con.close()
    if prosody is not None:
        prosody.stop()
        items = read_roster(prosody, BOT.split("@")[0])
        items.update(("%s@%s" % (n, DOMAIN), "both") for n in names)
        write_roster(prosody, BOT.split("@")[0], items)
        prosody.start()


class Crowd:
    """Many light clients on one asyncio loop: they log in a few at a
    time, send directed presence to the bot, and record every update."""

    def __init__(self, prosody, names):
        self.prosody = prosody
        self.names = list(names)
        self.got = {n: [] for n in self.names}  # (id, body) per client
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.xmpp = {}
        for n in self.names:
            prosody.add_user(n)

    def _run(self, coro, timeout=120):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def connect(self, batch=10):
        async def one(n):
            x = slixmpp.ClientXMPP("%s@%s" % (n, DOMAIN), PASSWORD)
            x.ssl_context.load_verify_locations(self.prosody.ca_file)
            done = asyncio.get_event_loop().create_future()
            x.add_event_handler("session_start", lambda ev: done.done() or done.set_result(True))

            def on_msg(m, n=n):
                with self.lock:
                    self.got[n].append((m["id"], m["body"]))
            x.add_event_handler("message", on_msg)
            x.connect(("127.0.0.1", self.prosody.port))
            await asyncio.wait_for(done, 30)
            x.send_presence()
            self.xmpp[n] = x

        async def go():
            for i in range(0, len(self.names), batch):
                await asyncio.gather(*(one(n) for n in self.names[i:i + batch]))
        self._run(go(), 300)

    def present(self, show=None, names=None):
        """Directed presence to the bot (no subscription needed)."""
        async def go():
            for n in names or self.names:
                kw = {"pto": BOT}
                if show:
                    kw["pshow"] = show
                self.xmpp[n].send_presence(**kw)
        self._run(go())

    def updates(self, n, text=""):
        with self.lock:
            return [(i, b) for i, b in self.got[n] if (i or "").startswith("starling-") and text in (b or "")]

    def wait_all(self, text, count=1, timeout=60, show=None):
        """Until every client has count distinct updates containing text.
        Those still missing repeat their directed presence every few
        seconds: one sent while the bot's own initial presence was not yet
        processed by the server is dropped (a repeat is a no-op for the
        bot when the first one did arrive)."""
        deadline = time.time() + timeout
        repeat = time.time() + 3
        while time.time() < deadline:
            missing = [n for n in self.names
                       if len({i for i, _ in self.updates(n, text)}) < count]
            if not missing:
                return []
            if time.time() > repeat:
                self.present(show, names=missing)
                repeat = time.time() + 3
            time.sleep(0.2)
        return missing

    def disconnect(self):
        async def go():
            for x in self.xmpp.values():
                x.disconnect()
            await asyncio.sleep(0.5)
        try:
            self._run(go(), 30)
        except Exception:
            pass
        stop_loop(self._run, self.loop, self.thread)
