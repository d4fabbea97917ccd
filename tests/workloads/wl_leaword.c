/*
 * wl_leaword - wl_leatable.h with a table of code pointers in .text: the
 * reader loads the word it is given the address of and calls what it
 * points to (the marker's entry).  The words need text relocations (the
 * linker warns): hand-written tables like this are rare in a
 * distribution's libraries, which is why the scan must still see them.
 */
#define WL_LT_WORDS
#define WL_LT_READ "\tmov (%rdi), %rax\n\txor %edi, %edi\n\tcall *%rax\n"
#include "wl_leatable.h"
