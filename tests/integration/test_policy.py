"""Subscription policy (SPEC 2, 3) and reloading the configuration with
SIGHUP (SPEC 1) without dropping the session."""
import signal
import time

import pytest

import harness


def test_allowlist_refuses_others_and_stores_nothing(prosody, tmp_path, clients):
    b = harness.Bot(prosody, tmp_path, bot_section=(
        'subscription = "allowlist"; allow = [ "^al[a-z]*@localhost$" ];')).start()
    try:
        alice = harness.join(prosody, "alice")
        clients.append(alice)
        eve = harness.Client(prosody, "eve").connect()
        clients.append(eve)
        eve.subscribe()
        time.sleep(1.0)
        assert [m for m in eve.drain(0.5) if "Welcome" in (m["body"] or "")] == []
        # eve is no user: she gets the stranger's reply.
        assert "Add me" in eve.ask("hello")
        assert "No user eve." == alice.ask("whois eve")
    finally:
        assert b.stop() == 0


def test_closed_lets_only_admins_in(prosody, tmp_path, clients):
    b = harness.Bot(prosody, tmp_path, bot_section=(
        'subscription = "closed"; admins = [ "admin@localhost" ];')).start()
    try:
        admin = harness.join(prosody, "admin")
        clients.append(admin)
        bob = harness.Client(prosody, "bob").connect()
        clients.append(bob)
        bob.subscribe()
        time.sleep(1.0)
        assert "Add me" in bob.ask("hello")
        assert "No user bob." == admin.ask("whois bob")
    finally:
        assert b.stop() == 0


@pytest.mark.core
def test_sighup_reloads_without_dropping_the_session(prosody, tmp_path, clients):
    b = harness.Bot(prosody, tmp_path, bot_section="post_max_chars = 10;").start()
    try:
        alice = harness.join(prosody, "alice")
        clients.append(alice)
        assert "too long" in alice.ask("x" * 20)
        conf = open(b.conf).read()
        open(b.conf, "w").write(conf.replace("post_max_chars = 10;", "post_max_chars = 50;"))
        b.signal(signal.SIGHUP)
        b.wait_notify("RELOADING=1")
        time.sleep(0.5)
        assert alice.ask("x" * 20).startswith("Posted #")
        # A broken file is refused with its line; the running config stays.
        open(b.conf, "w").write(conf.replace("post_max_chars = 10;", 'post_max_chars = "many";'))
        b.signal(signal.SIGHUP)
        time.sleep(1.0)
        assert "reload refused" in b.read_log() and "starling.conf:" in b.read_log()
        assert alice.ask("y" * 20).startswith("Posted #")
        log = b.read_log()
        assert log.count("logged in as") == 1  # the session was never dropped
    finally:
        assert b.stop() == 0
