/*
 * wl_loadword - wl_leatable.h where wl_lt_MARKER loads a word of a table
 * of code pointers in .text (the marker entry's address) and the reader
 * calls what it was given: the loaded word is a pointer slot.
 */
#define WL_LT_LOAD
#define WL_LT_WORDS
#define WL_LT_READ "\txor %eax, %eax\n\tcall *%rdi\n"
#include "wl_leatable.h"
