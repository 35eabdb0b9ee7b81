"""Command line and configuration checks (SPEC 1 and 2)."""
import os
import subprocess

import pytest

import harness

BIN = os.path.join(harness.ROOT, "build", "starling")


def starling(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True,
                          timeout=20)


def write(tmp_path, text, name="s.conf"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


GOOD = """xmpp: { jid = "bot@example.org"; password = "x"; };
storage: { path = "/tmp/s.db"; };
"""


def test_check_good_file(tmp_path):
    r = starling("-c", write(tmp_path, GOOD), "--check")
    assert r.returncode == 0, r.stderr


def test_check_shipped_example():
    r = starling("-c", os.path.join(harness.ROOT, "etc", "starling.conf"), "--check")
    assert r.returncode == 0, r.stderr


def test_check_bad_files_name_file_and_line(tmp_path):
    cases = [
        (GOOD + "bot: {\n  colour = 3;\n};\n", 4, "unknown key"),
        ('xmpp: {\n jid = "bot@example.org";\n password = "x";\n port = "five";\n};\n'
         'storage: { path = "/tmp/s.db"; };\n', 4, "integer"),
        (GOOD + 'bot: {\n allow = [ "(unclosed" ];\n};\n', 4, "does not compile"),
        (GOOD + 'log: {\n level = "loud";\n};\n', 4, "level"),
        ('xmpp: {\n jid = "bot@example.org";\n};\nstorage: { path = "/tmp/s.db"; };\n', 1, "password"),
        ('xmpp: {\n jid = "bot@example.org";\n password_file = "/nonexistent/pw";\n};\n'
         'storage: { path = "/tmp/s.db"; };\n', 3, "password file"),
        ('xmpp: { jid = "bot@example.org"; password = "x"\n', 2, ""),
    ]
    for text, line, words in cases:
        path = write(tmp_path, text)
        r = starling("-c", path, "--check")
        assert r.returncode == 2, (text, r.stdout, r.stderr)
        assert r.stderr.startswith("%s:%d:" % (path, line)), (text, r.stderr)
        assert words in r.stderr, (text, r.stderr)


def test_version_help_and_unknown_flag():
    r = starling("--version")
    assert r.returncode == 0 and r.stdout.startswith("starling ")
    r = starling("--help")
    assert r.returncode == 0 and "usage" in r.stdout
    r = starling("--frobnicate")
    assert r.returncode == 2 and "usage" in r.stderr
    r = starling()
    assert r.returncode == 2


@pytest.mark.core
def test_wrong_password_exits_1(prosody, tmp_path):
    b = harness.Bot(prosody, tmp_path, password="wrong-password")
    b.start(wait_ready=False)
    try:
        rc = b.proc.wait(30)
    finally:
        b.proc.kill() if b.proc.poll() is None else None
    assert rc == 1
    log = b.read_log()
    assert "authentication refused for bot@localhost" in log
    assert "wrong-password" not in log
