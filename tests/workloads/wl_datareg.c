/*
 * wl_datareg - a thread that holds, in a register, a pointer into a table
 * kept in .text (as OpenSSL's perlasm keeps K256), whose bytes decode as
 * a marker instruction.
 *
 *   wl_datareg MARKER table|jump
 *
 * After the code of wl_dr_spin, in a gap no symbol or FDE covers, lies
 * one entry per marker of wl_mark.h: its instruction and a ret.  Main
 * prints "ready" and spins in wl_dr_spin with %r15 pointing at MARKER's
 * entry, computed from wl_dr_spin's own address (no word of memory and
 * no RIP-relative reference points into the gap).  With "table" the loop
 * only reads through %r15; with "jump" it loops on a test that never
 * fails before `call *%r15`.
 *
 * A scan must count MARKER with "jump" (the register may be called) and
 * not with "table" (it only ever serves as a data address).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "wl_mark.h"

#define TABLE_CODE(p, name, insn) ".Ldr_" #name ":\n\t" insn "\n\tret\n"
#define TABLE_OFFS(p, name, insn) "\t.long .Ldr_" #name " - wl_dr_spin\n"
#define TABLE_NAME(p, name, insn) #name,

/* wl_dr_spin(offset, jump): never returns.  No CFI, no FDE: the entries
 * after its .size are a gap. */
__asm__(".text\n\t.p2align 6\n"
	".globl wl_dr_spin\n.hidden wl_dr_spin\n.type wl_dr_spin, @function\n"
	"wl_dr_spin:\n"
	"\tlea wl_dr_spin(%rip), %r15\n"
	"\tadd %rdi, %r15\n"
	"\ttest %esi, %esi\n"
	"\tjnz .Ldr_jump\n"
	".Ldr_table:\n"
	"\tmovzbl (%r15), %eax\n"
	"\ttest %eax, %eax\n"
	"\tjmp .Ldr_table\n"
	".Ldr_jump:\n"
	"\tmovzbl (%r15), %eax\n"
	"\tcmp $0x100, %eax\n"           /* a byte never is: loop forever */
	"\tjb .Ldr_jump\n"
	"\tcall *%r15\n"
	"\tud2\n"
	".size wl_dr_spin, . - wl_dr_spin\n"
	"\t.p2align 4\n"
	WL_MARKERS(TABLE_CODE, _)
	"\t.p2align 6\n"
	".pushsection .rodata\n\t.p2align 2\n"
	".globl wl_dr_offsets\n.hidden wl_dr_offsets\n"
	".type wl_dr_offsets, @object\n"
	"wl_dr_offsets:\n"
	WL_MARKERS(TABLE_OFFS, _)
	".size wl_dr_offsets, . - wl_dr_offsets\n"
	".popsection\n");

extern const uint32_t wl_dr_offsets[] __attribute__((visibility("hidden")));
extern void wl_dr_spin(uint64_t offset, int jump) __attribute__((visibility("hidden"), noreturn));

static const char *const names[] = { WL_MARKERS(TABLE_NAME, _) };

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[2], "table") != 0 && strcmp(argv[2], "jump") != 0)) {
		fprintf(stderr, "usage: wl_datareg MARKER table|jump\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(argv[1], names[i]) != 0)
			continue;
		printf("ready\n");
		fflush(stdout);
		wl_dr_spin(wl_dr_offsets[i], argv[2][0] == 'j');
	}
	fprintf(stderr, "wl_datareg: no marker '%s'\n", argv[1]);
	return 2;
}
