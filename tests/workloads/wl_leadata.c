/*
 * wl_leadata - wl_leatable.h with a reader that only loads through the
 * table address it is given, after picking it with a cmov (as
 * sha1_multi_block picks its table or a lane's input with cmovle).
 */
#define WL_LT_READ "\tmov %rdi, %rdx\n\ttest %rdi, %rdi\n\tcmovne %rdi, %rdx\n" \
		   "\tmovzbl (%rdx), %eax\n\tmovzbl 1(%rdx), %ecx\n\tadd %ecx, %eax\n"
#include "wl_leatable.h"
