/*
 * wl_gap - code that no symbol or FDE covers (a gap unit), entered at one
 * address.
 *
 *   wl_gap MARKER ud|in
 *
 * The gap holds, for every marker of wl_mark.h, one byte 0x2f (das,
 * invalid in 64-bit mode on every CPU), then the marker instruction and a
 * ret.  The constructor stores in `held` the address of MARKER's 0x2f
 * byte (ud) or of its instruction (in); main's loop only checks that
 * `held` is set.  Nothing ever jumps into the gap.  The table of entry
 * offsets is read only by the constructor, which has run by the time
 * the scan looks (so only `held` leads into the gap).
 *
 * A scan must count MARKER with "in" and no other marker of the gap; with
 * "ud" none: from the 0x2f byte nothing else can run.  A linear sweep of
 * the gap would count every marker.  Prints "ready".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wl_mark.h"
#include "wl_util.h"

#define GAP_CODE(p, name, insn) \
	".Lgap_ud_" #name ":\n\t.byte 0x2f\n.Lgap_in_" #name ":\n\t" insn "\n\tret\n"
#define GAP_ADDRS(p, name, insn) \
	"\t.long .Lgap_ud_" #name " - wl_gap_before, .Lgap_in_" #name " - wl_gap_before\n"
#define GAP_NAME(p, name, insn) #name,

/* A sized function first, so that the gap is not counted as the tail of
 * an unsized one (crtbegin's frame_dummy). */
__asm__(".text\n\t.p2align 6\n"
	".globl wl_gap_before\n.hidden wl_gap_before\n.type wl_gap_before, @function\n"
	"wl_gap_before:\n\tret\n"
	".size wl_gap_before, . - wl_gap_before\n"
	WL_MARKERS(GAP_CODE, _)
	"\t.p2align 6\n"
	".pushsection .rodata\n\t.p2align 3\n"
	".globl wl_gap_entries\n.hidden wl_gap_entries\n"
	".type wl_gap_entries, @object\n"
	"wl_gap_entries:\n"
	WL_MARKERS(GAP_ADDRS, _)
	".size wl_gap_entries, . - wl_gap_entries\n"
	".popsection\n");

/* Offsets from wl_gap_before, not addresses: no word of the process's
 * memory but `held` points into the gap. */
extern const uint32_t wl_gap_entries[] __attribute__((visibility("hidden")));
extern void wl_gap_before(void) __attribute__((visibility("hidden")));

static const char *const names[] = { WL_MARKERS(GAP_NAME, _) };

static void *volatile held;

__attribute__((constructor)) static void choose(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[2], "ud") != 0 && strcmp(argv[2], "in") != 0))
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(argv[1], names[i]) == 0)
			held = (char *)wl_gap_before + wl_gap_entries[2 * i + (argv[2][0] == 'i')];
}

int main(int argc, char **argv)
{
	(void)argv;
	if (argc != 3 || held == NULL) {
		fprintf(stderr, "usage: wl_gap MARKER ud|in\n");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (held == NULL)
			abort();
		wl_sleep_ms(10);
	}
}
