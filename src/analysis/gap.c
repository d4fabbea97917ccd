/*
 * gap.c - code no symbol or FDE covers, decoded from where it is entered.
 *
 * A function unit is decoded whole: however it is entered, its body runs.
 * A gap unit (bytes between functions that no symbol or FDE covers) is
 * different: it may hold hand-written code without unwind information,
 * but also data assemblers keep in .text (OpenSSL's perlasm keeps its
 * constant tables and an ASCII banner there).  A linear sweep from its
 * first byte decodes that data as code, and the garbage "instructions"
 * name features and branch into real functions (libcrypto's SHA-256
 * table, swept, "jumps" into the SHA-NI function).
 *
 * So a gap is decoded from the addresses it is entered at: every
 * reference to it (a branch, a pointer in memory or a register, a
 * fall-through from the unit before it) is an entry, and from each entry
 * the instructions run in order, branches inside the gap adding entries,
 * until one that never falls through (ret, jmp, ud2, hlt, ...) or one that
 * is invalid in 64-bit mode on every x86-64 CPU (the one-byte opcodes the
 * architecture removed from long mode: a process that gets there dies of
 * SIGILL wherever it runs, so nothing after it is reached this way).
 * Bytes the decoder cannot decode for any other reason (an encoding newer
 * than it) could be a real instruction: the gap is then swept whole, as
 * before.  A gap reached with no address (every unit, every export) is
 * swept whole too.
 *
 * Threads: entries are added by the main thread between levels; the one
 * worker that decodes a gap in a level owns its state meanwhile.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"
#include "features/isa_map.h"

struct mg_gap {
	uint8_t *started;   /* a bit per byte: an instruction decoded from there */
	GArray *pending;    /* uint32_t offsets still to decode from */
	bool whole;         /* sweep it all, linearly */
	bool whole_done;    /* ... and a worker did */
};

static void gap_free(gpointer p)
{
	mg_gap *g = p;
	free(g->started);
	if (g->pending)
		g_array_free(g->pending, TRUE);
	free(g);
}

bool mg_unit_is_gap(const mg_codemap *map, uint32_t unit)
{
	const mg_unit *u = &map->units[unit];
	return u->kind == MG_UNIT_FUNCTION && u->module != MG_NO_MODULE &&
	       (u->func == NULL || u->func->origin == MG_FUNC_GAP);
}

bool mg_unit_next_code_word(const mg_scan_ctx *cx, uint32_t unit, uint64_t *at, uint64_t *word)
{
	const mg_unit *g = &cx->map->units[unit];
	uint64_t h;
	const uint8_t *b = mg_unit_code(cx, unit, &h);
	if (*at == 0)
		*at = (g->start + 7) & ~(uint64_t)7;
	for (; b != NULL && *at + 8 <= g->end; *at += 8) {
		memcpy(word, b + (*at - g->start), 8);
		if (mg_codemap_find(cx->map, *word) != MG_NO_UNIT) {
			*at += 8;
			return true;
		}
	}
	return false;
}

int mg_gap_init(mg_scan_ctx *cx)
{
	cx->gaps = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, gap_free);
	return cx->gaps ? 0 : -1;
}

void mg_gap_free(mg_scan_ctx *cx)
{
	if (cx->gaps)
		g_hash_table_destroy(cx->gaps);
	cx->gaps = NULL;
}

static mg_gap *gap_of(const mg_scan_ctx *cx, uint32_t unit)
{
	return cx->gaps ? g_hash_table_lookup(cx->gaps, GUINT_TO_POINTER(unit + 1)) : NULL;
}

/* The gap's state, made on first use; NULL without memory (then the gap
 * is swept whole, as if no entry were known). */
static mg_gap *gap_get(mg_scan_ctx *cx, uint32_t unit)
{
	mg_gap *g = gap_of(cx, unit);
	if (g != NULL || cx->gaps == NULL)
		return g;
	const mg_unit *u = &cx->map->units[unit];
	size_t len = (size_t)(u->end - u->start);
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return NULL;
	g->started = calloc(len / 8 + 1, 1);
	g->pending = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	if (g->started == NULL) {
		gap_free(g);
		return NULL;
	}
	g_hash_table_insert(cx->gaps, GUINT_TO_POINTER(unit + 1), g);
	return g;
}

static bool started(const mg_gap *g, size_t off)
{
	return mg_bit_test(g->started, off);
}

void mg_gap_enter(mg_scan_ctx *cx, uint32_t unit, uint64_t addr)
{
	mg_gap *g = gap_get(cx, unit);
	if (g == NULL || g->whole)
		return;
	uint32_t off = (uint32_t)(addr - cx->map->units[unit].start);
	if (!started(g, off))
		g_array_append_val(g->pending, off);
}

void mg_gap_whole(mg_scan_ctx *cx, uint32_t unit)
{
	mg_gap *g = gap_get(cx, unit);
	if (g != NULL)
		g->whole = true;
}

bool mg_gap_has_work(const mg_scan_ctx *cx, uint32_t unit)
{
	const mg_gap *g = gap_of(cx, unit);
	return g != NULL && (g->whole ? !g->whole_done : g->pending->len > 0);
}

/* --- the walk ---------------------------------------------------------------- */

/*
 * One-byte opcodes that raise #UD in 64-bit mode on every x86-64 CPU
 * (Intel SDM vol. 2, appendix A.2.5 "i64"; AMD APM vol. 3, "invalid in
 * 64-bit mode"): push/pop of segment registers, the BCD adjustments,
 * pusha/popa, the 0x82 alias of group 1, far call/jmp with an immediate,
 * into, aam/aad and salc; and the reserved members of groups 4 and 5
 * (0xfe /2-/7, 0xff /7: SDM vol. 2 table A-6).  0x62, 0xc4/0xc5, 0x8f
 * and 0xd5 are not among them: they start EVEX, VEX, XOP and APX
 * encodings.
 */
static bool invalid_in_long_mode(const uint8_t *p, size_t avail)
{
	size_t i = 0;
	while (i < avail && i < 15 &&
	       (p[i] == 0x26 || p[i] == 0x2e || p[i] == 0x36 || p[i] == 0x3e ||
		p[i] == 0x64 || p[i] == 0x65 || p[i] == 0x66 || p[i] == 0x67 ||
		p[i] == 0xf0 || p[i] == 0xf2 || p[i] == 0xf3 || (p[i] & 0xf0) == 0x40))
		i++;
	if (i >= avail)
		return false;
	if ((p[i] == 0xfe || p[i] == 0xff) && i + 1 < avail) {
		unsigned reg = (p[i + 1] >> 3) & 7;
		return p[i] == 0xfe ? reg >= 2 : reg == 7;
	}
	switch (p[i]) {
	case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f:
	case 0x27: case 0x2f: case 0x37: case 0x3f: case 0x60: case 0x61: case 0x82:
	case 0x9a: case 0xce: case 0xd4: case 0xd6: case 0xea:
		return true;
	default:
		return false;
	}
}

bool mg_gap_walk(const ZydisDecoder *decoder, const uint8_t *bytes, size_t len,
		 uint8_t *started_bits, GArray *todo, bool *falls_off,
		 mg_gap_visit visit, void *arg)
{
	ZydisDecodedInstruction insn;
	while (todo->len > 0) {
		size_t off = g_array_index(todo, uint32_t, todo->len - 1);
		g_array_set_size(todo, todo->len - 1);
		while (off < len && !mg_bit_test(started_bits, off)) {
			if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(decoder, NULL, bytes + off,
									len - off, &insn))) {
				if (invalid_in_long_mode(bytes + off, len - off))
					break;          /* SIGILL on every CPU: the path ends */
				return false;           /* perhaps an encoding newer than Zydis */
			}
			mg_bit_set(started_bits, off);
			if (!visit(arg, &insn, off))
				return false;
			for (int i = 0; i < 2; i++) {
				if (!insn.raw.imm[i].size || !insn.raw.imm[i].is_relative)
					continue;
				int64_t t = (int64_t)(off + insn.length) + insn.raw.imm[i].value.s;
				if (t >= 0 && (uint64_t)t < len) {
					uint32_t to = (uint32_t)t;
					g_array_append_val(todo, to);
				}
			}
			if (mg_insn_never_falls_through(&insn))
				break;
			off += insn.length;
		}
		if (off >= len)
			*falls_off = true;
	}
	return true;
}

/* --- decoding a gap in a worker ---------------------------------------------- */

typedef struct walk_ctx {
	mg_worker *w;
	uint32_t unit;
	const uint8_t *bytes;
	size_t len;
	mg_unit_summary s;
	size_t cap;
	uint64_t decoded;          /* bytes of the instructions walked */
} walk_ctx;

static bool visit_insn(void *arg, const ZydisDecodedInstruction *insn, size_t off)
{
	walk_ctx *c = arg;
	mg_scan_ctx *cx = c->w->cx;
	c->s.instructions++;
	c->decoded += insn->length;
	if (!mg_summary_add_insn(&c->s, &c->cap, insn, off, c->len))
		return false;
	if (cx->opt->explain != MG_FEATURE_NONE)
		mg_explain_insn(c->w, c->unit, insn, c->bytes, c->len, off);
	return true;
}

bool mg_gap_decode(mg_worker *w, uint32_t unit, const uint8_t *bytes)
{
	mg_scan_ctx *cx = w->cx;
	mg_gap *g = gap_of(cx, unit);
	if (g == NULL)
		return false;
	if (g->whole) {
		g->whole_done = true;   /* the caller sweeps it */
		return false;
	}
	const mg_unit *u = &cx->map->units[unit];
	walk_ctx c = { .w = w, .unit = unit, .bytes = bytes,
		       .len = (size_t)(u->end - u->start) };
	GArray *todo = g->pending;
	g->pending = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	bool falls_off = false;
	w->gap_unit = unit;
	while (todo->len > 0) {
		memset(&c.s, 0, sizeof(c.s));
		c.cap = 0;
		if (!mg_gap_walk(&cx->decoder, bytes, c.len, g->started, todo, &falls_off,
				 visit_insn, &c)) {
			/* Not decodable as we know x86 (or out of memory): sweep it
			 * all, as a function is (the caller does). */
			mg_unit_summary_free(&c.s);
			g->whole = g->whole_done = true;
			w->gap_unit = MG_NO_UNIT;
			g_array_set_size(w->gap_local, 0);
			g_array_free(todo, TRUE);
			return false;
		}
		mg_summary_finish(&c.s);
		mg_apply_summary(w, unit, &c.s, bytes, c.len);
		w->instructions += c.s.instructions;
		mg_unit_summary_free(&c.s);
		/* Code addresses inside the gap its instructions took (lea, a
		 * pointer loaded from it): more entries (edge() kept them). */
		for (guint i = 0; i < w->gap_local->len; i++)
			g_array_append_val(todo, g_array_index(w->gap_local, uint32_t, i));
		g_array_set_size(w->gap_local, 0);
	}
	g_array_free(todo, TRUE);
	w->gap_unit = MG_NO_UNIT;
	w->bytes += c.decoded;
	if (falls_off && unit + 1 < cx->map->nunits && cx->map->units[unit + 1].start == u->end)
		mg_edge_to(w, u->end, MG_WHY_FALLTHROUGH, unit);
	return true;
}
