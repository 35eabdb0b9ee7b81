/*
 * fuzz_config.c - libFuzzer target for the configuration loader: any file
 * either loads into a consistent struct config or is refused with a
 * "FILE:..." message; nothing in between, no leak, no crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    struct config c;
    char err[1024];
    FILE *f;

    if (path[0] == '\0')
        snprintf(path, sizeof(path), "/tmp/starling-fuzz-%d.conf",
                 (int)getpid());
    if ((f = fopen(path, "w")) == NULL)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    err[0] = '\0';
    if (config_load(path, &c, err, sizeof(err)) == 0) {
        if (c.xmpp.jid == NULL || c.xmpp.password == NULL ||
            c.storage.path == NULL || c.bot.post_max_chars < 1)
            abort();
        config_free(&c);
    } else if (strncmp(err, path, strlen(path)) != 0) {
        abort();
    }
    return 0;
}
