/*
 * wl_leadata - wl_leatable.h with a reader that only loads through the
 * table address it is given.
 */
#define WL_LT_READ "\tmovzbl (%rdi), %eax\n\tmovzbl 1(%rdi), %ecx\n\tadd %ecx, %eax\n"
#include "wl_leatable.h"
