# Starling - a microblogging service in your XMPP contact list.
#
#   make            build/starling
#   make test       unit tests (plain and ASan/UBSan) + integration tests
#                   (all on Prosody, the core on ejabberd)
#   make test-ejabberd  the whole integration suite on ejabberd
#   make demo       a private Prosody, the bot and a scripted conversation
#   make bench      benchmarks against baselines measured in the same run
#   make fuzz       libFuzzer targets, FUZZ_SECONDS each
#   make install    PREFIX=/usr/local DESTDIR=

VERSION   := 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR   ?= $(PREFIX)/lib/systemd/system
PYTHON    ?= /usr/bin/python3
FUZZ_SECONDS ?= 60

PKGS      := libstrophe sqlite3 libconfig openssl libpcre2-8
CC        ?= cc
CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 -D_GNU_SOURCE -pthread -Wall -Wextra -Wshadow -Wstrict-prototypes \
             -DSTARLING_VERSION='"$(VERSION)"'
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

SRCS      := $(wildcard common/*.c storage/*.c bot/*.c)
LIB_SRCS  := $(filter-out bot/main.c,$(SRCS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
HDRS      := $(wildcard common/*.h storage/*.h bot/*.h)

B         := build
OBJS      := $(SRCS:%.c=$(B)/obj/%.o)
LIB_OBJS  := $(LIB_SRCS:%.c=$(B)/obj/%.o)
ASAN_OBJS := $(LIB_SRCS:%.c=$(B)/asan/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/unit/%)
ASAN_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/unit-asan/%)
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined

.PHONY: all deps test unit integration demo bench fuzz install uninstall \
        clean format test-valgrind test-ejabberd check-deps
all: $(B)/starling

$(B)/starling: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(PKG_LIBS)

$(B)/starling-asan: $(ASAN_OBJS) $(B)/asan/bot/main.o
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(B)/asan/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(B)/libstarling.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/libstarling-asan.a: $(ASAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/unit/%: tests/unit/%.c $(B)/libstarling.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Icommon -Istorage -Ibot -o $@ $< \
		$(B)/libstarling.a $(PKG_LIBS) -lcmocka

$(B)/unit-asan/%: tests/unit/%.c $(B)/libstarling-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) $(PKG_CFLAGS) -Icommon -Istorage -Ibot -o $@ $< \
		$(B)/libstarling-asan.a $(PKG_LIBS) -lcmocka

# Install missing Debian packages (as root), or say which are missing.
deps:
	@sh tests/deps.sh

check-deps:
	@sh tests/deps.sh --check

unit: $(UNIT_BINS) $(ASAN_BINS)
	@sh tests/run-unit.sh $(UNIT_BINS) $(ASAN_BINS)

integration: $(B)/starling
	@sh tests/run-integration.sh

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS) $(ASAN_BINS)
	@sh tests/run-all.sh "$(UNIT_BINS) $(ASAN_BINS)"

test-ejabberd: deps
	@$(MAKE) --no-print-directory all
	@sh tests/run-integration.sh --server=ejabberd

test-valgrind: deps
	@$(MAKE) --no-print-directory all
	@STARLING_VALGRIND=1 sh tests/run-integration.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@$(PYTHON) tests/demo/demo.py

bench: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -C tests/bench
	@$(PYTHON) tests/bench/bench.py

fuzz: deps
	@$(MAKE) --no-print-directory -C tests/fuzz run SECONDS=$(FUZZ_SECONDS)

install: $(B)/starling
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)/starling \
		$(DESTDIR)$(UNITDIR)
	install -m 755 $(B)/starling $(DESTDIR)$(BINDIR)/starling
	install -m 644 bot/starling.8 $(DESTDIR)$(MANDIR)/man8/starling.8
	install -m 644 etc/starling.conf.5 $(DESTDIR)$(MANDIR)/man5/starling.conf.5
	install -m 640 etc/starling.conf $(DESTDIR)$(SYSCONFDIR)/starling/starling.conf.example
	sed 's|@BINDIR@|$(BINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		systemd/starling.service > $(DESTDIR)$(UNITDIR)/starling.service
	chmod 644 $(DESTDIR)$(UNITDIR)/starling.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/starling $(DESTDIR)$(MANDIR)/man8/starling.8 \
		$(DESTDIR)$(MANDIR)/man5/starling.conf.5 \
		$(DESTDIR)$(SYSCONFDIR)/starling/starling.conf.example \
		$(DESTDIR)$(UNITDIR)/starling.service
	-rmdir $(DESTDIR)$(SYSCONFDIR)/starling 2>/dev/null

format:
	clang-format -i $$(git ls-files "*.c" "*.h")

clean:
	rm -rf $(B)
