/*
 * wl_leacall - wl_leatable.h with a reader that loads through the table
 * address it is given, then calls it (the marker's entry: its
 * instruction and a ret).
 */
#define WL_LT_READ "\tmovzbl (%rdi), %eax\n\tcall *%rdi\n"
#include "wl_leatable.h"
