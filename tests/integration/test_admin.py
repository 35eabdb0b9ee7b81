"""Admin by chat (SPEC 5): stats, ban, unban, delete any post, broadcast,
whois with JIDs; everyone else gets "Not permitted."."""
import time

import pytest

import harness


def test_non_admin_is_not_permitted(user):
    alice = user("alice")
    for cmd in ("stats", "ban bob", "unban bob", "broadcast hello all", "ban"):
        assert alice.ask(cmd) == "Not permitted."
    assert alice.ask("last") == "Nothing yet."


def test_stats_and_whois(user):
    admin, alice = user("admin"), user("alice")
    # "admin" is a reserved nick: admin@localhost joins as admin2.
    alice.ask("follow admin2")
    alice.ask("a post")
    s = admin.ask("stats")
    assert s.startswith("users 2, active 2, online 2, posts 1, follows 1, held 0, uptime ")
    w = admin.ask("whois alice")
    assert "JID: alice@localhost" in w
    assert "alice@localhost" not in alice.ask("whois admin")


def test_ban_and_unban(user, bot):
    admin, eve, bob = user("admin"), user("eve"), user("bob")
    bob.ask("follow eve")
    assert admin.ask("ban eve spamming links") == "Banned eve."
    assert "You have been banned from posting: spamming links." in eve.wait("banned")["body"]
    assert eve.ask("buy my stuff") == "You are banned (spamming links)."
    assert eve.ask("follow bob") == "You are banned (spamming links)."
    assert eve.ask("d bob hi") == "You are banned (spamming links)."
    assert "buy my stuff" not in bob.ask("last")
    assert "Banned: spamming links" in admin.ask("whois eve")
    assert admin.ask("unban eve") == "Unbanned eve."
    assert admin.ask("unban eve") == "eve is not banned."
    eve.wait("Your ban has been lifted.")
    assert eve.ask("I am back").startswith("Posted #")
    assert "admin admin@localhost: ban eve spamming links" in bot.read_log()


def test_admin_deletes_any_post(user):
    admin, alice = user("admin"), user("alice")
    alice.ask("something rude")
    assert admin.ask("delete #1") == "Deleted #1."
    assert alice.ask("#1") == "No post #1."


@pytest.mark.core
def test_broadcast_reaches_everyone_by_presence_rules(user):
    admin, alice, bob = user("admin"), user("alice"), user("bob")
    bob.presence("dnd")
    time.sleep(0.3)
    assert admin.ask("broadcast Maintenance at noon").startswith("Broadcast #")
    assert alice.wait("Maintenance")["body"] == "Announcement: Maintenance at noon"
    assert [m for m in bob.drain(1.0) if "Maintenance" in (m["body"] or "")] == []
    bob.presence(None)
    assert bob.wait("Maintenance")["delay"] is not None
