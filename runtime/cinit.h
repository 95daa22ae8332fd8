// The plan format's version tag; see cinit.c and cinit_linux.go.
#define CINIT_MAGIC 0x62727431u

#include <stddef.h>
#include <stdint.h>

long berth_cinit_spawn(const uint8_t *plan, size_t len, unsigned long cloneflags);
