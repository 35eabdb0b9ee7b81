"""Exports as files (issue 15, XEP-0363 HTTP File Upload): with Prosody's
mod_http_file_share the bot finds the upload service after login, puts the
JSON document there over https (the server's certificate verified) and
sends the link as a XEP-0066 message; whenever the file cannot be used
(too large for the service, a slot refused, an untrusted certificate) the
document comes as chat messages as before.  The module is Prosody's, so
these tests run on Prosody whatever --server says; without the service
(every other test) test_social.py's test_export_by_chat covers the chat
path."""
import json
import os
import re
import ssl
import time
import urllib.request

import pytest

import harness

INTRO = re.compile(r'Your export: a JSON document of (\d+) bytes, format '
                   r'"starling-export" version 1 \(the link below\)\.$')
PIECES = re.compile(r"Your export: a JSON document of (\d+) bytes in the (\d+) "
                    r"messages? below; join their texts in order\.")


@pytest.fixture
def prosody(request, tmp_path):
    """Prosody with mod_http_file_share; @pytest.mark.upload(KEY=VALUE)
    passes keywords to harness.Prosody."""
    marker = request.node.get_closest_marker("upload")
    s = harness.Prosody(tmp_path, upload=True, **(marker.kwargs if marker else {})).start()
    yield s
    s.stop()


def wait_log(bot, text, timeout=20):
    deadline = time.time() + timeout
    while text not in bot.read_log():
        if time.time() > deadline:
            raise AssertionError("no %r in the bot's log within %s s:\n%s"
                                 % (text, timeout, bot.read_log()[-3000:]))
        time.sleep(0.1)


def download(prosody, url):
    ctx = ssl.create_default_context(cafile=prosody.ca_file)
    with urllib.request.urlopen(url, context=ctx, timeout=20) as r:
        return r.read()


def chat_pieces(client, intro):
    """The document sent as chat messages after intro."""
    m = PIECES.match(intro)
    assert m, intro
    pieces = [client.wait(lambda x: not harness.is_update(x))["body"]
              for _ in range(int(m.group(2)))]
    text = "".join(pieces)
    assert len(text.encode()) == int(m.group(1))
    return json.loads(text)


def test_export_comes_as_a_file(user, bot, prosody):
    wait_log(bot, "file upload (XEP-0363) through %s" % harness.UPLOAD_DOMAIN)
    alice, bob = user("alice"), user("bob")
    bob.ask("follow alice")
    alice.ask("bio Gardener")
    alice.ask("my secret-free first post")
    alice.ask("second post with caf\u00e9 and \"quotes\"")
    intro = alice.ask("export", timeout=30)
    m = INTRO.match(intro)
    assert m, intro
    link = alice.wait(lambda x: x["oob"] is not None, timeout=30)
    # XEP-0066 as clients expect it: the body is exactly the URL.
    assert link["body"] == link["oob"]
    assert link["oob"].startswith("https://localhost:%d/" % prosody.https_port)
    assert link["oob"].endswith("/starling-export-alice.json")
    data = download(prosody, link["oob"])
    assert len(data) == int(m.group(1))
    doc = json.loads(data)
    assert doc["format"] == "starling-export" and doc["version"] == 1
    assert doc["user"]["nick"] == "alice" and doc["user"]["bio"] == "Gardener"
    assert [p["text"] for p in doc["posts"]] == [
        "second post with caf\u00e9 and \"quotes\"", "my secret-free first post"]
    assert [f["nick"] for f in doc["followers"]] == ["bob"]
    # Nothing else came: no chat pieces.
    assert not [x for x in alice.drain(1) if not harness.is_update(x)]
    # Once an hour still; others export their own.
    assert alice.ask("export") == "You can export once an hour; try again in 60 minutes."
    assert INTRO.match(bob.ask("export", timeout=30))
    bobs = bob.wait(lambda x: x["oob"] is not None, timeout=30)
    assert json.loads(download(prosody, bobs["oob"]))["user"]["nick"] == "bob"
    # The log tells what happened, never what the document holds.
    log = bot.read_log()
    assert "is in place" in log
    assert "secret-free" not in log and "Gardener" not in log


@pytest.mark.upload(upload_limit=600)
def test_too_large_for_the_service_comes_in_chat(user, bot):
    wait_log(bot, "files up to 600 bytes")
    alice = user("alice")
    for i in range(3):
        alice.ask("note %d of a few words %s" % (i, "x" * 200))
    doc = chat_pieces(alice, alice.ask("export"))
    assert [p["text"][:6] for p in doc["posts"]] == ["note 2", "note 1", "note 0"]
    assert "asked for a slot" not in bot.read_log()


@pytest.mark.upload(extra="http_file_share_daily_quota = 10\n")
def test_refused_slot_falls_back_to_chat(user, bot):
    wait_log(bot, "file upload (XEP-0363) through")
    alice = user("alice")
    alice.ask("hello there")
    doc = chat_pieces(alice, alice.ask("export", timeout=30))
    assert doc["posts"][0]["text"] == "hello there"
    assert ("no slot for alice@localhost: resource-constraint (Daily quota reached)"
            in bot.read_log())


@pytest.mark.parametrize("cert", [
    pytest.param({"https_ca": "Some Other CA"}, id="other-ca"),
    pytest.param({"https_name": "elsewhere.example"}, id="other-name")])
def test_untrusted_upload_server_falls_back_to_chat(tmp_path, clients, cert):
    """The https server's certificate is signed by a CA the bot does not
    trust, or names another host: nothing is uploaded, the document comes
    in chat."""
    prosody = harness.Prosody(tmp_path, upload=True, **cert).start()
    bot = harness.Bot(prosody, tmp_path).start()
    try:
        wait_log(bot, "file upload (XEP-0363) through")
        alice = harness.join(prosody, "alice")
        clients.append(alice)
        alice.ask("hello there")
        doc = chat_pieces(alice, alice.ask("export", timeout=30))
        assert doc["posts"][0]["text"] == "hello there"
        assert "certificate of localhost not trusted" in bot.read_log()
    finally:
        assert bot.stop() in (0, None), bot.read_log()[-3000:]
        prosody.stop()


def test_component_with_a_named_service(tmp_path, clients):
    """Component mode does not look for a service, but uses the one
    xmpp.upload_service names (with xmpp.ca_file for its https)."""
    service, secret = "updates." + harness.DOMAIN, "component-Secret-7"
    prosody = harness.Prosody(tmp_path, upload=True)
    prosody.add_component(service, secret)
    prosody.start()
    config = """xmpp: { mode = "component"; upload_service = "%s"; ca_file = "%s"; };
component: { domain = "%s"; secret = "%s"; host = "127.0.0.1"; port = %d; };
storage: { path = "%s"; };
log: { level = "info"; };
""" % (harness.UPLOAD_DOMAIN, prosody.ca_file, service, secret,
       prosody.component_port, tmp_path / "bot.db")
    b = harness.Bot(prosody, tmp_path, config=config).start()
    try:
        wait_log(b, "file upload (XEP-0363) through %s" % harness.UPLOAD_DOMAIN)
        alice = harness.Client(prosody, "alice").connect()
        clients.append(alice)
        alice.subscribe(to=service)
        alice.wait("Welcome to Starling", timeout=15)
        alice.send("hello from a component", to=service)
        alice.wait("Posted #1.")
        alice.send("export", to=service)
        assert INTRO.match(alice.wait(lambda x: x["body"].startswith("Your export"),
                                      timeout=30)["body"])
        link = alice.wait(lambda x: x["oob"] is not None, timeout=30)
        doc = json.loads(download(prosody, link["oob"]))
        assert doc["posts"][0]["text"] == "hello from a component"
    finally:
        assert b.stop() in (0, None), b.read_log()[-3000:]
        prosody.stop()
