/*
 * wl_leatable.h - a table kept in .text whose address a function takes
 * with a RIP-relative lea and hands to a reader, as OpenSSL's
 * ecp_nistz256_points_mul takes its precomputed table (in .text, where no
 * symbol or FDE covers it) and hands it to ecp_nistz256_gather_w7.
 *
 *   PROG MARKER
 *
 * After the code lies one entry per marker of wl_mark.h, its instruction
 * and a ret, in a gap.  wl_lt_MARKER (with an FDE) does `lea entry(%rip),
 * %rbx; mov %rbx,%rdi; call wl_lt_read`, then spins.  The program that
 * includes this header defines WL_LT_READ, the reader's body: one that
 * only loads through %rdi (wl_leadata.c), or one that also calls it
 * (wl_leacall.c: it runs the marker, which the test picks from what the
 * CPU has), or one that loads a word of the table and calls that
 * (wl_leaword.c, with WL_LT_WORDS: the table then also holds a word per
 * entry that points to it, and wl_lt_MARKER takes that word's address).
 * With WL_LT_LOAD, wl_lt_MARKER loads from that address instead (`mov
 * entry(%rip), %rbx`) and hands the reader the bytes, not the address, as
 * OpenSSL's mont5 code loads its .Linc constants from .text with movdqa
 * (wl_loadtext.c; with WL_LT_WORDS the loaded word is the entry's address,
 * which the reader calls: wl_loadword.c).
 * Main prints "ready" and calls wl_lt_MARKER.
 *
 * A scan must count MARKER with the calling readers and not with the
 * loading one (the address then only ever serves as data).  Every wl_lt_*
 * function is reachable (main's table points to each), so with the
 * calling reader every marker counts, and with the loading one none.
 */
#ifndef WL_LEATABLE_H
#define WL_LEATABLE_H

#include <stdio.h>
#include <string.h>

#include "wl_mark.h"

/* What wl_lt_MARKER takes the address of: the entry, or (WL_LT_WORDS) a
 * word of the table that points to it. */
#ifdef WL_LT_WORDS
#define LT_TARGET ".Llw_"
#else
#define LT_TARGET ".Llt_"
#endif

/* How wl_lt_MARKER takes what it hands the reader: an address or a load. */
#ifdef WL_LT_LOAD
#define LT_TAKE "mov "
#else
#define LT_TAKE "lea "
#endif

#define LT_ENTRY(p, name, insn) ".Llt_" #name ":\n\t" insn "\n\tret\n"
#define LT_WORD(p, name, insn) ".Llw_" #name ":\n\t.quad .Llt_" #name "\n"
#define LT_FUNC(p, name, insn) \
	".type wl_lt_" #name ", @function\n" \
	"wl_lt_" #name ":\n\t.cfi_startproc\n" \
	"\tpush %rbx\n\t.cfi_adjust_cfa_offset 8\n\t.cfi_rel_offset %rbx, 0\n" \
	"\t" LT_TAKE LT_TARGET #name "(%rip), %rbx\n" \
	"\tmov %rbx, %rdi\n" \
	"\tcall wl_lt_read\n" \
	"1:\tpause\n\tjmp 1b\n" \
	"\t.cfi_endproc\n.size wl_lt_" #name ", . - wl_lt_" #name "\n"
#define LT_DECL(p, name, insn) extern void wl_lt_##name(void) __attribute__((visibility("hidden")));
#define LT_ROW(p, name, insn) { #name, wl_lt_##name },

__asm__(".text\n\t.p2align 6\n"
	".type wl_lt_read, @function\n"
	"wl_lt_read:\n\t.cfi_startproc\n"
	WL_LT_READ
	"\tret\n\t.cfi_endproc\n.size wl_lt_read, . - wl_lt_read\n"
	WL_MARKERS(LT_FUNC, _)
	"\t.p2align 4\n"
	WL_MARKERS(LT_ENTRY, _)
#ifdef WL_LT_WORDS
	"\t.p2align 3\n"
	WL_MARKERS(LT_WORD, _)
#endif
	"\t.p2align 6\n");

WL_MARKERS(LT_DECL, _)

static const struct { const char *name; void (*fn)(void); } lt_rows[] = {
	WL_MARKERS(LT_ROW, _)
};

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s MARKER\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(lt_rows) / sizeof(lt_rows[0]); i++) {
		if (strcmp(argv[1], lt_rows[i].name) != 0)
			continue;
		printf("ready\n");
		fflush(stdout);
		lt_rows[i].fn();
	}
	fprintf(stderr, "%s: no marker '%s'\n", argv[0], argv[1]);
	return 2;
}

#endif
