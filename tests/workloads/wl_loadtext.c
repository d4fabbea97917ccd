/*
 * wl_loadtext - wl_leatable.h where wl_lt_MARKER loads the first bytes of
 * the marker's entry (they are code, here only read as data) and the
 * reader only keeps them: nothing can jump to the entry.
 */
#define WL_LT_LOAD
#define WL_LT_READ "\tmov %rdi, %rax\n"
#include "wl_leatable.h"
