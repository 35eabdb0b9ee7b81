"""Test harness: a private XMPP server (Prosody, or ejabberd: one node or
a cluster), the Starling binary and slixmpp clients.

Everything runs on loopback in a temporary directory: the server gets its
own CA and a certificate for "localhost" that the bot verifies; accounts
are written as files (Prosody, internal_plain) or created over erl_call
(ejabberd); Server() gives the kind $STARLING_SERVER names; the bot
reports readiness through a NOTIFY_SOCKET the harness owns.  Clients are
real slixmpp connections, each with its own asyncio loop in a thread,
wrapped in a synchronous API for plain pytest tests.  Used by the
integration tests, the demo and the benchmarks.
"""
import asyncio
import glob
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
UPLOAD_DOMAIN = "upload." + DOMAIN  # Prosody(upload=True)'s service
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


def server_certs(dirname, ca_name):
    """A CA named ca_name and a certificate for "localhost" it signed, in
    dirname: (ca, key, cert), ca being (key, cert) as make_ca returns."""
    ca = make_ca(dirname, ca_name.replace(" ", "_"))
    key, cert = make_cert(dirname, ca)
    return ca, key, cert


def wait_port(port, proc, what, timeout):
    """Until something accepts on 127.0.0.1:port; RuntimeError when proc
    exits first or timeout passes."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s: nothing on port %d within %s s" % (what, port, timeout))


class Prosody:
    """A private Prosody 0.12 on a free loopback port.  The config is
    written by start(), so add_component() before it counts.

    upload=True adds XEP-0363 HTTP File Upload: mod_http_file_share as
    the component UPLOAD_DOMAIN (listed in the domain's disco#items),
    serving https://localhost:<https_port>/file_share/... with the
    server's CA-signed certificate, or with https_ca, one for "localhost"
    signed by another CA of that name (which the bot does not trust), or
    with https_name, one the server's CA signed for another name;
    upload_limit sets its max-file-size (bytes)."""

    kind = "prosody"

    def __init__(self, tmpdir, limits_unlimited=True, roster_sql=False,
                 ca_name="Starling Test CA", extra="", unlimited=(),
                 upload=False, upload_limit=None, https_ca=None,
                 https_name=None):
        self.dir = os.path.join(str(tmpdir), "prosody")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.port = free_port()
        self.ca, self.key, self.cert = server_certs(os.path.join(self.dir, "certs"), ca_name)
        self.ca_file = self.ca[1]
        self.proc = None
        self.config = os.path.join(self.dir, "prosody.cfg.lua")
        self.log = os.path.join(self.dir, "prosody.log")
        self.exempt = ([BOT] if limits_unlimited else []) + list(unlimited)
        self.roster_sql = roster_sql
        self.extra = extra
        self.components = []  # (domain, secret)
        self.component_port = None
        self.upload = upload
        self.upload_limit = upload_limit
        self.https_port = free_port() if upload else None
        self.https_key, self.https_cert = self.key, self.cert
        if https_ca:
            _, self.https_key, self.https_cert = server_certs(
                os.path.join(self.dir, "https-certs"), https_ca)
        elif https_name:
            self.https_key, self.https_cert = make_cert(
                os.path.join(self.dir, "certs"), self.ca, https_name)
        self.add_user("bot")

    def add_component(self, domain, secret):
        """An XEP-0114 component domain with its secret; returns the
        component port.  Before start()."""
        if self.component_port is None:
            self.component_port = free_port()
        self.components.append((domain, secret))
        return self.component_port

    def write_config(self):
        limits = 'limits = { c2s = { rate = "10kb/s" }; s2sin = { rate = "30kb/s" } }\n'
        if self.exempt:
            limits += "unlimited_jids = { %s }\n" % "; ".join('"%s"' % j for j in self.exempt)
        storage = ""
        if self.roster_sql:
            storage = ('storage = { roster = "sql" }\n'
                       'sql = { driver = "SQLite3", database = "roster.sqlite" }\n')
        root = "run_as_root = true\n" if os.geteuid() == 0 else ""
        components = ""
        if self.components:
            components = 'component_ports = { %d }\ncomponent_interfaces = { "127.0.0.1" }\n' % self.component_port
        sections = "".join('Component "%s"\n  component_secret = "%s"\n' % c
                           for c in self.components)
        http = ""
        if self.upload:
            # HTTPS only, on loopback, with the server's certificate; the
            # URLs name "localhost", which resolves here.
            http = (f'http_ports = {{ }}\nhttps_ports = {{ {self.https_port} }}\n'
                    f'https_interfaces = {{ "127.0.0.1" }}\n'
                    f'https_ssl = {{ key = "{self.https_key}"; certificate = "{self.https_cert}" }}\n')
            sections += (f'Component "{UPLOAD_DOMAIN}" "http_file_share"\n'
                         f'  http_host = "{DOMAIN}"\n')
            if self.upload_limit is not None:
                sections += "  http_file_share_size_limit = %d\n" % self.upload_limit
        with open(self.config, "w") as f:
            f.write(f"""{root}pidfile = "{self.dir}/prosody.pid"
data_path = "{self.dir}/data"
log = {{ info = "{self.log}" }}
daemonize = false
modules_disabled = {{ "posix" }}
modules_enabled = {{ "roster"; "saslauth"; "tls"; "disco"; "ping"; "limits"; "offline" }}
{limits}{storage}authentication = "internal_plain"
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.port} }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ }}
c2s_require_encryption = true
{components}{http}{self.extra}
VirtualHost "{DOMAIN}"
  ssl = {{ key = "{self.key}"; certificate = "{self.cert}" }}
{sections}""")

    def add_contacts(self, owner, jids):
        """jids become contacts of owner's roster with subscription both,
        as if each had been subscribed and approved; the server restarts
        (it caches rosters it has read)."""
        self.stop()
        items = read_roster(self, owner)
        items.update((j, "both") for j in jids)
        write_roster(self, owner, items)
        self.start()

    def set_roster(self, owner, items):
        """Replace owner's roster: items maps bare JIDs to their
        subscription ("both", "from", "to", "none").  A running server is
        restarted (it caches rosters it has read)."""
        running = self.proc is not None and self.proc.poll() is None
        if running:
            self.stop()
        write_roster(self, owner, items)
        if running:
            self.start()

    def add_user(self, name, password=PASSWORD):
        """An account (its password replaced if it exists); its JID."""
        d = os.path.join(self.dir, "data", escape(DOMAIN), "accounts")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, escape(name) + ".dat"), "w") as f:
            f.write('return { ["password"] = "%s"; };\n' % password)
        return "%s@%s" % (name, DOMAIN)

    def add_users(self, names, password=PASSWORD):
        """Many accounts at once; their JIDs."""
        return [self.add_user(n, password) for n in names]

    def start(self):
        self.write_config()
        self.proc = subprocess.Popen(
            ["prosody", "--config", self.config],
            stdout=open(os.path.join(self.dir, "stdout.log"), "a"),
            stderr=subprocess.STDOUT)
        try:
            wait_port(self.port, self.proc, "prosody", 15)
            if self.component_port is not None:
                wait_port(self.component_port, self.proc, "prosody", 15)
            if self.https_port is not None:
                wait_port(self.https_port, self.proc, "prosody", 15)
        except RuntimeError as e:
            raise RuntimeError("%s: see %s" % (e, self.dir))
        return self

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


def erl_binary(text):
    """text as an Erlang UTF-8 binary literal."""
    return '<<"%s"/utf8>>' % text.replace("\\", "\\\\").replace('"', '\\"')


def ejabberd_libs():
    """The directory holding Debian's ejabberd-VERSION application (for
    ERL_LIBS): /usr/lib/<multiarch triplet>."""
    found = sorted(glob.glob("/usr/lib/*/ejabberd-*/ebin"))
    if not found:
        raise RuntimeError("ejabberd is not installed (apt-get install ejabberd)")
    return os.path.dirname(os.path.dirname(found[0]))


class Ejabberd:
    """A private ejabberd node (Debian's 23.01) on free loopback ports,
    with the same interface as Prosody.

    One Erlang node of its own: Mnesia, log and config in the test's
    directory; the packaged service and /etc/ejabberd are not used.  A
    lone node runs without epmd (its distribution port is fixed with
    -erl_epmd_port); nodes of a Cluster find each other through the
    cluster's private epmd.  Accounts are created through erl_call
    (ejabberd_auth:try_register/3), many in one call; those added before
    start() are created as soon as the node is up, and Mnesia keeps them
    across restarts.  The config is written by start(), so listeners and
    components added before it count.

    limits_unlimited: the bot (and the JIDs in unlimited) are exempt from
    the c2s shaper; everybody else, and the bot too with
    limits_unlimited=False, gets ejabberd's stock "normal" shaper (3,000
    bytes a second from a client, bursts of 20,000).  The modules are
    those of Debian's ejabberd.yml a client session meets (roster,
    offline, stream management, carbons, vCard, privacy, blocking...),
    without mod_pres_counter.  extra: YAML appended at the top level;
    modules: YAML lines appended to the modules (indented by two);
    listeners: YAML mappings (one string each) added to the listen list.
    roster_sql is accepted for Prosody's interface and ignored (rosters
    live in Mnesia)."""

    kind = "ejabberd"

    def __init__(self, tmpdir, limits_unlimited=True, roster_sql=False,
                 ca_name="Starling Test CA", extra="", unlimited=(),
                 listeners=(), modules="", name="ejabberd", cookie=None,
                 epmd_port=None, certs=None):
        self.dir = os.path.join(str(tmpdir), name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.dist_port = free_port()
        self.node = name + "@localhost"
        self.cookie = cookie or "starling-" + os.urandom(8).hex()
        self.epmd_port = epmd_port
        if certs is None:
            certs = server_certs(os.path.join(self.dir, "certs"), ca_name)
        self.ca, self.key, self.cert = certs
        self.ca_file = self.ca[1]
        self.exempt = ([BOT] if limits_unlimited else []) + list(unlimited)
        self.extra = extra
        self.modules = modules
        self.listeners = list(listeners)
        self.component_ports = []
        self.config = os.path.join(self.dir, "ejabberd.yml")
        self.log = os.path.join(self.dir, "ejabberd.log")
        self.proc = None
        self.notify = None
        self.pending = []  # (name, password) to register once started
        self.pending_rosters = []  # (owner, items) to set once started
        self.add_user("bot")

    def add_component(self, domain, secret):
        """An ejabberd_service (XEP-0114) listener on a free port for
        domain with its secret; returns the port.  Before start()."""
        port = free_port()
        self.component_ports.append(port)
        self.listeners.append(f"""port: {port}
ip: "127.0.0.1"
module: ejabberd_service
hosts:
  "{domain}":
    password: "{secret}"
""")
        return port

    def write_config(self):
        listeners = "".join(
            "  -\n" + "".join("    %s\n" % line for line in l.strip("\n").split("\n"))
            for l in self.listeners)
        exempt = ""
        if self.exempt:
            exempt = "  starling_unlimited:\n    user:\n" + "".join(
                '      - "%s"\n' % j for j in self.exempt)
        unlimited = "    none: starling_unlimited\n" if self.exempt else ""
        with open(os.path.join(self.dir, "inetrc"), "w") as f:
            f.write('{lookup,[file,native]}.\n{host,{127,0,0,1},["localhost"]}.\n')
        with open(self.config, "w") as f:
            f.write(f"""loglevel: info
log_rotate_count: 0
hosts:
  - "{DOMAIN}"
ca_file: "{self.ca_file}"
certfiles:
  - "{self.cert}"
  - "{self.key}"
listen:
  -
    port: {self.port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: c2s_shaper
    access: c2s
    starttls_required: true
{listeners}acl:
  local:
    user_regexp: ""
{exempt}access_rules:
  local:
    allow: local
  c2s:
    allow: all
shaper:
  normal:
    rate: 3000
    burst_size: 20000
  fast: 200000
shaper_rules:
  max_user_sessions: 10
  max_user_offline_messages: 100
  c2s_shaper:
{unlimited}    normal: all
  s2s_shaper: fast
modules:
  mod_blocking: {{}}
  mod_caps: {{}}
  mod_carboncopy: {{}}
  mod_client_state: {{}}
  mod_disco: {{}}
  mod_last: {{}}
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_ping: {{}}
  mod_privacy: {{}}
  mod_roster:
    versioning: true
  mod_stream_mgmt:
    resend_on_timeout: if_offline
  mod_vcard:
    search: false
  mod_vcard_xupdate: {{}}
  mod_version: {{}}
{self.modules}{self.extra}""")

    def env(self):
        e = dict(os.environ)
        e.update(EJABBERD_CONFIG_PATH=self.config, EJABBERD_LOG_PATH=self.log,
                 HOME=self.dir, ERL_LIBS=ejabberd_libs(),
                 ERL_INETRC=os.path.join(self.dir, "inetrc"))
        e.pop("NOTIFY_SOCKET", None)
        if self.epmd_port is not None:
            e.update(ERL_EPMD_PORT=str(self.epmd_port), ERL_EPMD_ADDRESS="127.0.0.1")
        return e

    def command(self):
        if self.epmd_port is None:
            dist = ["-erl_epmd_port", str(self.dist_port)]
        else:
            dist = ["-kernel", "inet_dist_listen_min", str(self.dist_port),
                    "inet_dist_listen_max", str(self.dist_port)]
        # +sbwt none: idle schedulers sleep instead of spinning (a shared
        # two-core machine).
        return (["erl", "+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none",
                 "-sname", self.node, "-setcookie", self.cookie, "-noinput",
                 "-start_epmd", "false"] + dist +
                ["-kernel", "inet_dist_use_interface", "{127,0,0,1}",
                 "-mnesia", "dir", '"%s"' % os.path.join(self.dir, "mnesia"),
                 "-s", "ejabberd"])

    def start(self, timeout=30, register=True):
        """Start the node; returns once it said READY=1 (ejabberd speaks
        sd_notify), its c2s and component ports accept and the pending
        accounts exist."""
        self.write_config()
        notify = os.path.join(self.dir, "notify.sock")
        if os.path.exists(notify):
            os.unlink(notify)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(notify)
        env = self.env()
        env["NOTIFY_SOCKET"] = notify
        # In its own directory: a node that dies writes its crash dumps
        # (MnesiaCore.*, erl_crash.dump) where it runs.
        self.proc = subprocess.Popen(
            self.command(), env=env, start_new_session=True, cwd=self.dir,
            stdout=open(os.path.join(self.dir, "stdout.log"), "a"),
            stderr=subprocess.STDOUT)
        # The socket stays open while the node runs (it says STOPPING=1).
        self.notify = sock
        deadline = time.time() + timeout
        sock.settimeout(0.2)
        ready = False
        while not ready and time.time() < deadline and self.proc.poll() is None:
            try:
                ready = "READY=1" in sock.recv(4096).decode(errors="replace").split("\n")
            except socket.timeout:
                pass
        try:
            for port in [self.port] + self.component_ports:
                wait_port(port, self.proc, "ejabberd", max(1, deadline - time.time()))
            if register and self.pending:
                self.register(self.pending)
                self.pending = []
            while register and self.pending_rosters:
                self.set_roster(*self.pending_rosters.pop(0))
        except Exception as e:
            self.kill()
            raise RuntimeError("%s: see %s" % (e, self.dir))
        return self

    def erl(self, expr, timeout=60):
        """Evaluate the Erlang expression expr (ending with ".") on the
        node through erl_call; returns erl_call's answer, "{ok, Result}"."""
        r = subprocess.run(
            ["erl_call", "-address", "127.0.0.1:%d" % self.dist_port,
             "-c", self.cookie, "-e"],
            input=(expr + "\n").encode(), capture_output=True, timeout=timeout)
        out = r.stdout.decode(errors="replace")
        if r.returncode != 0 or not out.startswith("{ok,"):
            raise RuntimeError("erl_call on %s failed (%s): %s%s" % (
                self.node, r.returncode, out[:2000], r.stderr.decode(errors="replace")[:2000]))
        return out

    def add_contacts(self, owner, jids):
        """jids become contacts of owner's roster with subscription both,
        as if each had been subscribed and approved (mod_admin_extra, no
        restart needed)."""
        calls = ",".join(
            'mod_admin_extra:add_rosteritem(<<"%s">>, <<"%s">>, <<"%s">>, '
            '<<"%s">>, <<"">>, <<"">>, <<"both">>)'
            % (owner, DOMAIN, j.split("@")[0], j.split("@")[1]) for j in jids)
        self.erl("[%s]." % calls)

    def set_roster(self, owner, items):
        """Replace owner's roster: items maps bare JIDs to their
        subscription ("both", "from", "to", "none"); on a stopped node,
        once it has started (after the pending accounts)."""
        if self.proc is None or self.proc.poll() is not None:
            self.pending_rosters.append((owner, dict(items)))
            return
        calls = ['mod_roster:remove_user(<<"%s">>, <<"%s">>)' % (owner, DOMAIN)]
        calls += ['mod_admin_extra:add_rosteritem(<<"%s">>, <<"%s">>, <<"%s">>, '
                  '<<"%s">>, <<"">>, <<"">>, <<"%s">>)'
                  % (owner, DOMAIN, j.split("@")[0], j.split("@")[1], sub)
                  for j, sub in items.items()]
        self.erl("[%s]." % ",".join(calls))

    def register(self, accounts):
        """Create (or reset the password of) each (name, password), a few
        thousand to one erl_call."""
        for i in range(0, len(accounts), 2000):
            pairs = ",".join("{%s,%s}" % (erl_binary(n), erl_binary(p))
                             for n, p in accounts[i:i + 2000])
            # sync_log: on disk before the call returns, so that a test
            # that kills the node next finds the accounts after it.
            out = self.erl(
                'H = %s, Rs = [case ejabberd_auth:try_register(U, H, P) of '
                '{error, exists} -> ejabberd_auth:set_password(U, H, P); R -> R end '
                '|| {U, P} <- [%s]], mnesia:sync_log(), Rs.' % (erl_binary(DOMAIN), pairs))
            if "error" in out:
                raise RuntimeError("registering accounts on %s: %s" % (self.node, out[:2000]))

    def add_user(self, name, password=PASSWORD):
        """An account (its password replaced if it exists); its JID."""
        return self.add_users([name], password)[0]

    def session_shaper(self, name, resource):
        """The shaper on the live c2s session name@DOMAIN/resource: None
        when unshaped, else (bytes per second, burst size)."""
        out = self.erl("element(6, maps:get(socket, sys:get_state(ejabberd_sm:get_session_pid("
                       "%s, %s, %s))))." % (erl_binary(name), erl_binary(DOMAIN), erl_binary(resource)))
        m = re.match(r"\{ok, \{state, (\d+), (\d+),", out)
        if m:
            return int(m.group(1)), int(m.group(2))
        if out.strip() == "{ok, none}":
            return None
        raise RuntimeError("no shaper for %s/%s: %s" % (name, resource, out))

    def add_users(self, names, password=PASSWORD):
        """Many accounts at once; their JIDs."""
        accounts = [(n, password) for n in names]
        if self.proc is None:
            self.pending.extend(accounts)
        else:
            self.register(accounts)
        return ["%s@%s" % (n, DOMAIN) for n in names]

    def stop(self):
        """Stop ejabberd (its streams closed), then Mnesia, flush the
        logs, halt the VM.  (init:stop() would take a second longer.)"""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.erl("application:stop(ejabberd), mnesia:stop(), "
                         "[catch logger_std_h:filesync(H) || H <- logger:get_handler_ids()], "
                         "erlang:halt(0).", 20)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass  # the node may halt before erl_call has its answer
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.kill()
        self.gone()

    def restart(self):
        self.stop()
        return self.start()

    def kill(self):
        """SIGKILL to the node and its helpers (its own process group):
        the server vanishes without closing its streams."""
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()
        self.gone()

    def gone(self):
        self.proc = None
        if self.notify is not None:
            self.notify.close()
            self.notify = None


class Cluster:
    """ejabberd nodes (two by default) joined into one cluster on
    loopback: a private epmd on a free port (ERL_EPMD_PORT), one cookie,
    one certificate; node 1.. join node 0 with
    ejabberd_admin:join_cluster.  Accounts are shared by the cluster, so
    add_user on any node will do; a client belongs to the node whose port
    it connects to (Client(cluster.nodes[1], "bob")).  Nodes can be
    killed, stopped and started again one by one (a node started again
    rejoins by itself: its Mnesia schema names the cluster)."""

    def __init__(self, tmpdir, nodes=2, ca_name="Starling Test CA", **kw):
        self.dir = os.path.join(str(tmpdir), "cluster")
        os.makedirs(self.dir, exist_ok=True)
        self.epmd_port = free_port()
        cookie = "starling-" + os.urandom(8).hex()
        certs = server_certs(os.path.join(self.dir, "certs"), ca_name)
        self.nodes = [Ejabberd(tmpdir, name="ejabberd%d" % i, cookie=cookie,
                               epmd_port=self.epmd_port, certs=certs, **kw)
                      for i in range(nodes)]
        self.ca_file = certs[0][1]
        self.epmd = None

    def __getitem__(self, i):
        return self.nodes[i]

    def add_component(self, domain, secret):
        """The component listener on every node; the ports, node by node."""
        return [n.add_component(domain, secret) for n in self.nodes]

    def start(self, timeout=60):
        self.epmd = subprocess.Popen(
            ["epmd", "-port", str(self.epmd_port), "-address", "127.0.0.1"],
            env=dict(os.environ, ERL_EPMD_ADDRESS="127.0.0.1"),
            start_new_session=True,
            stdout=open(os.path.join(self.dir, "epmd.log"), "a"),
            stderr=subprocess.STDOUT)
        try:
            wait_port(self.epmd_port, self.epmd, "epmd", 10)
            first = self.nodes[0]
            for n in self.nodes[1:]:
                # Joining wipes the joining node's own Mnesia: its
                # accounts are created on the cluster afterwards.
                first.pending += n.pending
                n.pending = []
            first.start(timeout)
            for n in self.nodes[1:]:
                n.start(timeout, register=False)
                n.erl("ejabberd_admin:join_cluster(%s)." % erl_binary(first.node), timeout)
                for port in [n.port] + n.component_ports:
                    wait_port(port, n.proc, "ejabberd", timeout)
            want = sorted(n.node for n in self.nodes)
            deadline = time.time() + timeout
            while self.running() != want:
                if time.time() > deadline:
                    raise RuntimeError("cluster did not form: %s" % self.running())
                time.sleep(0.2)
        except Exception:
            self.stop()
            raise
        return self

    def wait_present(self, *names, timeout=10):
        """Until every running node sees each of names (local parts)
        available.  A node learns of a session on another node
        asynchronously (Mnesia dirty writes): a chat to a bare JID that a
        node routes before that lands in offline storage, not with the
        client that is in fact online."""
        deadline = time.time() + timeout
        for node in self.nodes:
            for n in names:
                while node.proc is not None and node.erl(
                        "ejabberd_sm:get_user_present_resources(%s, %s)." % (
                            erl_binary(n), erl_binary(DOMAIN))).strip() == "{ok, []}":
                    if time.time() > deadline:
                        raise AssertionError("%s does not see %s online within %s s" % (node.node, n, timeout))
                    time.sleep(0.05)

    def running(self, i=0):
        """The names of the cluster's nodes node i sees running, sorted."""
        out = self.nodes[i].erl("lists:sort(ejabberd_cluster:get_nodes()).")
        return re.findall(r"[\w.-]+@localhost", out)

    def kill(self, i, timeout=10):
        """SIGKILL to node i; returns once every other node has seen it go
        (Erlang learns of a dead peer asynchronously, from the closed
        connection)."""
        gone = self.nodes[i].node
        self.nodes[i].kill()
        deadline = time.time() + timeout
        for k, node in enumerate(self.nodes):
            while node.proc is not None and gone in self.running(k):
                if time.time() > deadline:
                    raise AssertionError("%s still sees %s after %s s" % (node.node, gone, timeout))
                time.sleep(0.05)

    def stop(self):
        for n in reversed(self.nodes):
            n.stop()
        if self.epmd is not None:
            if self.epmd.poll() is None:
                self.epmd.terminate()
            self.epmd.wait()
            self.epmd = None


SERVERS = {"prosody": Prosody, "ejabberd": Ejabberd}


def server_kind():
    """The server the tests run against: $STARLING_SERVER (prosody by
    default, or ejabberd)."""
    kind = os.environ.get("STARLING_SERVER") or "prosody"
    if kind not in SERVERS:
        raise RuntimeError("STARLING_SERVER=%s: not one of %s" % (kind, ", ".join(SERVERS)))
    return kind


def Server(tmpdir, **kw):
    """A private server of the chosen kind (server_kind()), not started."""
    return SERVERS[server_kind()](tmpdir, **kw)


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
            # Under valgrind, loading OpenSSL's CA bundle alone takes
            # seconds of the login.
            if os.environ.get("STARLING_VALGRIND"):
                timeout *= 4
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
    """A received message: body, frm, id, type, delay (stamp or None), the
    id a XEP-0308 correction replaces or a XEP-0424 retraction retracts
    (or None), and the URL of a XEP-0066 <x xmlns="jabber:x:oob"/> (oob,
    or None)."""


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
        replace = m.xml.find("{urn:xmpp:message-correct:0}replace")
        retract = m.xml.find("{urn:xmpp:message-retract:1}retract")
        oob = m.xml.find("{jabber:x:oob}x/{jabber:x:oob}url")
        self.inbox.put(Message(body=m["body"], frm=str(m["from"]), id=m["id"],
                               type=m["type"], delay=delay,
                               replace=replace.get("id") if replace is not None else None,
                               retract=retract.get("id") if retract is not None else None,
                               oob=oob.text if oob is not None else None))

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
                if self.xmpp.transport is None:
                    return  # the server closed the stream already
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
        prosody.add_contacts(BOT.split("@")[0], ["%s@%s" % (n, DOMAIN) for n in names])


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
        prosody.add_users(self.names)

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
