/*
 * fuzz_parser.c - libFuzzer target for the command parser: any byte
 * string must parse into a post, a command or a usage reply without
 * touching memory it does not own, and a parsed command's arguments must
 * obey the documented limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cmd_parsed p;
    char *msg = malloc(size + 1);

    memcpy(msg, data, size);
    msg[size] = '\0';
    text_trim(msg);
    cmd_parse(msg, &p);
    if (p.result == CMD_OK) {
        if (p.args.nick[0] != '\0' && !nick_valid(p.args.nick))
            abort();
        if (p.args.num < 0 || p.args.count < 0 || p.args.count > 50)
            abort();
        if (p.args.text != NULL &&
            (p.args.text < msg || p.args.text > msg + size))
            abort();
    }
    free(msg);
    return 0;
}
