/*
 * dlsym.c - which functions dlsym can still return.
 *
 * dlsym(handle, name) returns any exported symbol of any loaded module
 * for a name computed at run time, so once it is reachable the sound
 * answer used to be "every export".  Most calls name the symbol with a
 * constant string, though: `dlsym(h, "gconv_init")`.  This file finds
 * every way the lookup functions (dlsym, dlvsym, __libc_dlsym,
 * __libc_dlvsym) are reached and, at each call site, the name argument:
 *
 *   - a call (direct, through the PLT, or `call *slot(%rip)`) whose name
 *     register (rsi, for all four) holds the address of a NUL-terminated
 *     string in read-only memory, by a constant propagation over the
 *     calling function (straight-line: every branch target inside the
 *     function forgets what is known, every call clobbers the
 *     caller-saved registers): that name's exports, in every module, are
 *     reachable (an IFUNC through its resolver);
 *   - anything else (a name computed at run time, a lookup function whose
 *     address is taken or stored, a thread stopped inside one): every
 *     export is, as before, and a warning names the site.
 *
 * New code reached by the names can hold more call sites: the scan
 * drains and analyses again until nothing changes (mg_dlsym_resolve).
 * Call sites and ways in are collected as the worklist reaches the
 * lookup functions and their PLT stubs (mg_dlsym_note, from
 * mg_reach_unit, which sees every edge into them: decode.c always
 * reports edges to watched units).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/engine.h"

static const char *const lookup_names[] = { "dlsym", "dlvsym", "__libc_dlsym", "__libc_dlvsym" };
#define NLOOKUP (sizeof(lookup_names) / sizeof(lookup_names[0]))

static bool is_lookup_name(const char *name)
{
	for (size_t i = 0; name && i < NLOOKUP; i++)
		if (strcmp(name, lookup_names[i]) == 0)
			return true;
	return false;
}

/* Is `name` "<lookup>@plt"? */
static bool is_lookup_plt(const char *name)
{
	const char *at = name ? strstr(name, "@plt") : NULL;
	if (at == NULL || at[4] != '\0')
		return false;
	for (size_t i = 0; i < NLOOKUP; i++)
		if (strlen(lookup_names[i]) == (size_t)(at - name) &&
		    strncmp(name, lookup_names[i], (size_t)(at - name)) == 0)
			return true;
	return false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Watched units (the lookup functions, their PLT stubs) and GOT slots. */
static void watch_module(mg_scan_ctx *cx, const mg_loaded_module *lm, GArray *slots)
{
	for (size_t k = 0; k < NLOOKUP; k++) {
		const mg_function *f = mg_module_lookup_export(lm->module, lookup_names[k]);
		uint32_t u = f ? mg_codemap_find(cx->map, f->start + lm->bias) : MG_NO_UNIT;
		if (u != MG_NO_UNIT)
			cx->dlsym.watch[u] = 1;
	}
	for (size_t r = 0; r < lm->module->nrelocs; r++) {
		const mg_reloc *rel = &lm->module->relocs[r];
		if ((rel->kind == MG_RELOC_JUMP_SLOT || rel->kind == MG_RELOC_GLOB_DAT) &&
		    is_lookup_name(rel->symbol)) {
			uint64_t at = rel->offset + lm->bias;
			g_array_append_val(slots, at);
		}
	}
}

int mg_dlsym_init(mg_scan_ctx *cx)
{
	mg_dlsym_state *d = &cx->dlsym;
	d->watch = calloc(cx->map->nunits ? cx->map->nunits : 1, 1);
	d->callers = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	d->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (d->watch == NULL)
		return -1;
	GArray *slots = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	for (size_t i = 0; i < cx->map->nmodules; i++)
		watch_module(cx, &cx->map->modules[i], slots);
	for (size_t u = 0; u < cx->map->nunits; u++) {
		const mg_unit *unit = &cx->map->units[u];
		if (unit->func && unit->func->origin == MG_FUNC_PLT && is_lookup_plt(unit->func->name))
			d->watch[u] = 1;
	}
	g_array_sort(slots, cmp_u64);
	d->nslots = slots->len;
	d->slots = (uint64_t *)g_array_free(slots, FALSE);
	return 0;
}

void mg_dlsym_free(mg_scan_ctx *cx)
{
	mg_dlsym_state *d = &cx->dlsym;
	free(d->watch);
	g_free(d->slots);
	if (d->callers)
		g_array_free(d->callers, TRUE);
	if (d->names)
		g_hash_table_destroy(d->names);
	free(d->why_unknown);
	memset(d, 0, sizeof(*d));
}

bool mg_dlsym_is_slot(const mg_scan_ctx *cx, uint64_t addr)
{
	const mg_dlsym_state *d = &cx->dlsym;
	return d->nslots && bsearch(&addr, d->slots, d->nslots, sizeof(uint64_t), cmp_u64);
}

/* A reason the result must widen; the first three are kept for the
 * warning, all are counted. */
static void unknown_because(mg_scan_ctx *cx, const char *where, const char *why)
{
	mg_dlsym_state *d = &cx->dlsym;
	d->unbounded = true;
	if (d->nunknown++ >= 3)
		return;
	char *more;
	if (asprintf(&more, "%s%s%s: %s", d->why_unknown ? d->why_unknown : "",
		     d->why_unknown ? "; " : "", where, why) < 0)
		return;
	free(d->why_unknown);
	d->why_unknown = more;
}

static void unit_label(const mg_scan_ctx *cx, uint32_t unit, char *buf, size_t len)
{
	char name[256];
	mg_unit_name(cx->map, unit, name, sizeof(name));
	const mg_unit *u = &cx->map->units[unit];
	const char *mod = u->module != MG_NO_MODULE ? cx->map->modules[u->module].name : "?";
	const char *base = strrchr(mod, '/');
	snprintf(buf, len, "%s %s", base ? base + 1 : mod, name);
}

static void add_caller(mg_scan_ctx *cx, uint32_t unit)
{
	GArray *c = cx->dlsym.callers;
	for (guint i = 0; i < c->len; i++)
		if (g_array_index(c, uint32_t, i) == unit)
			return;
	g_array_append_val(c, unit);
}

void mg_dlsym_note(mg_scan_ctx *cx, uint32_t unit, mg_reason why, uint32_t parent)
{
	char where[700];
	if (cx->opt->method == MG_METHOD_FULL || (why == MG_WHY_DLSYM && cx->dlsym.unbounded))
		return;     /* the widening itself reaching the lookups' exports */
	switch (why) {
	case MG_WHY_DIRECT:
	case MG_WHY_SLOT:
		/* A call, a jump or a GOT read in the parent: its code says which. */
		if (parent != MG_NO_UNIT && !cx->dlsym.watch[parent]) {
			add_caller(cx, parent);
			return;
		}
		if (parent != MG_NO_UNIT)
			return;     /* a PLT stub jumping to its target */
		break;
	case MG_WHY_LAZY:
		if (parent != MG_NO_UNIT && cx->dlsym.watch[parent])
			return;     /* the stub's own lazy binding */
		break;
	default:
		break;
	}
	unit_label(cx, unit, where, sizeof(where));
	if (parent != MG_NO_UNIT) {
		char from[300];
		unit_label(cx, parent, from, sizeof(from));
		snprintf(where + strlen(where), sizeof(where) - strlen(where), " (%s from %s)",
			 mg_reason_name(why), from);
	} else {
		snprintf(where + strlen(where), sizeof(where) - strlen(where), " (%s)",
			 mg_reason_name(why));
	}
	unknown_because(cx, where, "the lookup is reached other than by a call");
}

/* --- the name argument at each call ---------------------------------------- */

/* What is known of a general-purpose register: a constant, or nothing. */
typedef struct reg_state {
	bool known[16];
	uint64_t value[16];
} reg_state;

static int gpr_index(ZydisRegister r)
{
	ZydisRegister l = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
	if (l >= ZYDIS_REGISTER_RAX && l <= ZYDIS_REGISTER_R15)
		return (int)(l - ZYDIS_REGISTER_RAX);
	return -1;
}

#define RSI_INDEX (ZYDIS_REGISTER_RSI - ZYDIS_REGISTER_RAX)

static void clobber_call(reg_state *s)
{
	static const ZydisRegister volatile_regs[] = {
		ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RDX, ZYDIS_REGISTER_RSI,
		ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_R8, ZYDIS_REGISTER_R9, ZYDIS_REGISTER_R10,
		ZYDIS_REGISTER_R11,
	};
	for (size_t i = 0; i < sizeof(volatile_regs) / sizeof(volatile_regs[0]); i++)
		s->known[volatile_regs[i] - ZYDIS_REGISTER_RAX] = false;
}

/* Apply one instruction (ending at next_ip) to the register state. */
static void step(reg_state *s, const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op,
		 uint64_t next_ip)
{
	if (in->mnemonic == ZYDIS_MNEMONIC_CALL) {
		clobber_call(s);
		return;
	}
	int dst = in->operand_count_visible > 0 && op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
			  (op[0].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)
		  ? gpr_index(op[0].reg.value) : -1;
	bool wide = dst >= 0 && op[0].size >= 32;
	if (dst >= 0 && wide && in->operand_count_visible == 2) {
		const ZydisDecodedOperand *src = &op[1];
		if (in->mnemonic == ZYDIS_MNEMONIC_LEA && src->type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    src->mem.base == ZYDIS_REGISTER_RIP && src->mem.index == ZYDIS_REGISTER_NONE) {
			s->known[dst] = true;
			s->value[dst] = next_ip + (uint64_t)src->mem.disp.value;
			goto others;
		}
		if (in->mnemonic == ZYDIS_MNEMONIC_MOV && src->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
			s->known[dst] = true;
			s->value[dst] = op[0].size == 32 ? (uint32_t)src->imm.value.u : src->imm.value.u;
			goto others;
		}
		if (in->mnemonic == ZYDIS_MNEMONIC_MOV && src->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    op[0].size == 64 && gpr_index(src->reg.value) >= 0) {
			int from = gpr_index(src->reg.value);
			s->known[dst] = s->known[from];
			s->value[dst] = s->value[from];
			goto others;
		}
	}
	/* Any other register an instruction writes is unknown after it. */
	for (unsigned i = 0; i < in->operand_count; i++)
		if (op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    (op[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) && gpr_index(op[i].reg.value) >= 0)
			s->known[gpr_index(op[i].reg.value)] = false;
	return;
others:
	/* The destination was set; hidden writes (flags) do not matter. */
	return;
}

/* Does this call or jump go to a lookup function (directly, through its
 * PLT stub, or through its GOT slot)?  *loads is set when the
 * instruction only reads the lookup's address (the address escapes). */
static bool targets_lookup(mg_scan_ctx *cx, const ZydisDecodedInstruction *in,
			   const ZydisDecodedOperand *op, uint64_t next_ip, bool *loads)
{
	*loads = false;
	for (unsigned i = 0; i < in->operand_count_visible; i++) {
		uint64_t target;
		if (op[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op[i].imm.is_relative)
			target = next_ip + (uint64_t)op[i].imm.value.s;
		else if (op[i].type == ZYDIS_OPERAND_TYPE_MEMORY && op[i].mem.base == ZYDIS_REGISTER_RIP &&
			 op[i].mem.index == ZYDIS_REGISTER_NONE) {
			target = next_ip + (uint64_t)op[i].mem.disp.value;
			if (mg_dlsym_is_slot(cx, target)) {
				bool branch = in->mnemonic == ZYDIS_MNEMONIC_CALL ||
					      in->mnemonic == ZYDIS_MNEMONIC_JMP;
				*loads = !branch;
				return true;
			}
			if (in->mnemonic == ZYDIS_MNEMONIC_LEA) {
				uint32_t u = mg_codemap_find(cx->map, target);
				if (u != MG_NO_UNIT && cx->dlsym.watch[u]) {
					*loads = true;
					return true;
				}
			}
			continue;
		} else {
			continue;
		}
		uint32_t u = mg_codemap_find(cx->map, target);
		if (u != MG_NO_UNIT && cx->dlsym.watch[u] && in->mnemonic != ZYDIS_MNEMONIC_LEA)
			return true;
	}
	return false;
}

/* A NUL-terminated string at addr in read-only memory, or NULL. */
static char *constant_string(mg_scan_ctx *cx, uint64_t addr)
{
	const mg_mapping *m = mg_image_find_mapping(cx->img, addr);
	char buf[512];
	if (m == NULL || (m->prot & MG_PROT_WRITE) || !(m->prot & MG_PROT_READ))
		return NULL;
	size_t avail = m->end - addr < sizeof(buf) ? (size_t)(m->end - addr) : sizeof(buf);
	ssize_t got = mg_image_read(cx->img, addr, buf, avail);
	if (got <= 0 || memchr(buf, '\0', (size_t)got) == NULL)
		return NULL;
	return strdup(buf);
}

/* One decoded instruction of a calling unit. */
typedef struct insn {
	uint32_t off;
	ZydisDecodedInstruction in;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
	int32_t target;            /* index of the in-unit branch target, or -1 */
	bool falls;                /* execution goes on to the next instruction */
	bool indirect;             /* an indirect jump (jump table, tail call) */
} insn;

/* a = a meet b: what holds on both ways in. */
static bool meet(reg_state *a, bool *a_seen, const reg_state *b)
{
	if (!*a_seen) {
		*a = *b;
		*a_seen = true;
		return true;
	}
	bool changed = false;
	for (int r = 0; r < 16; r++)
		if (a->known[r] && (!b->known[r] || b->value[r] != a->value[r])) {
			a->known[r] = false;
			changed = true;
		}
	return changed;
}

static bool ends_flow_here(const ZydisDecodedInstruction *in)
{
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_JMP: case ZYDIS_MNEMONIC_RET: case ZYDIS_MNEMONIC_UD2:
	case ZYDIS_MNEMONIC_HLT:
		return true;
	default:
		return false;
	}
}

/* Decode the unit; NULL on failure.  *n instructions. */
static insn *decode_all(mg_scan_ctx *cx, const uint8_t *b, size_t len, size_t *n)
{
	insn *v = NULL;
	size_t cap = 0, count = 0;
	GHashTable *index = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (size_t off = 0; off < len;) {
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			insn *g = realloc(v, cap * sizeof(*g));
			if (g == NULL) {
				free(v);
				g_hash_table_destroy(index);
				return NULL;
			}
			v = g;
		}
		insn *x = &v[count];
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&cx->full_decoder, b + off, len - off,
							 &x->in, x->op))) {
			off++;          /* data: not an instruction */
			continue;
		}
		x->off = (uint32_t)off;
		x->target = -1;
		x->falls = !ends_flow_here(&x->in);
		x->indirect = x->in.mnemonic == ZYDIS_MNEMONIC_JMP &&
			      x->op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE;
		g_hash_table_insert(index, GSIZE_TO_POINTER(off + 1), GSIZE_TO_POINTER(count + 1));
		off += x->in.length;
		count++;
	}
	for (size_t k = 0; k < count; k++) {
		insn *x = &v[k];
		if (x->in.operand_count_visible == 0 || x->op[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
		    !x->op[0].imm.is_relative || x->in.mnemonic == ZYDIS_MNEMONIC_CALL)
			continue;
		int64_t dst = (int64_t)x->off + x->in.length + x->op[0].imm.value.s;
		gpointer at = dst >= 0 ? g_hash_table_lookup(index, GSIZE_TO_POINTER((size_t)dst + 1)) : NULL;
		if (at != NULL)
			x->target = (int32_t)(GPOINTER_TO_SIZE(at) - 1);
	}
	g_hash_table_destroy(index);
	*n = count;
	return v;
}

/*
 * The register state before each instruction: a forward dataflow from
 * the entry (nothing known) over fall-through and in-unit branches.  An
 * instruction no known edge reaches (a landing pad, a jump-table target)
 * starts from nothing known; with an indirect jump in the unit, every
 * instruction also meets the state at that jump (it may be a target).
 */
static reg_state *register_states(const insn *v, size_t n, uint64_t base)
{
	reg_state *in = calloc(n ? n : 1, sizeof(*in));
	bool *seen = calloc(n ? n : 1, sizeof(*seen));
	bool *queued = calloc(n ? n : 1, sizeof(*queued));
	size_t *queue = malloc((n ? n : 1) * sizeof(*queue)), head = 0, tail = 0;
	if (in == NULL || seen == NULL || queued == NULL || queue == NULL) {
		free(queue);
		free(queued);
		free(seen);
		free(in);
		return NULL;
	}
	/* A ring of at most n instructions, each queued once at a time. */
#define PUSH(k) do { if (!queued[k]) { queued[k] = true; queue[tail] = (k); \
			tail = (tail + 1) % n; } } while (0)
	reg_state nothing = { { false } }, jumps = { { false } };
	bool any_jump = false;
	size_t next_seed = 0;
	while (next_seed < n) {
		/* From the entry first, then from each instruction still unseen
		 * (only an unknown edge leads there: nothing is known). */
		if (!seen[next_seed]) {
			meet(&in[next_seed], &seen[next_seed], &nothing);
			PUSH(next_seed);
		}
		next_seed++;
		while (head != tail) {
			size_t k = queue[head];
			head = (head + 1) % n;
			queued[k] = false;
			reg_state out = in[k];
			step(&out, &v[k].in, v[k].op, base + v[k].off + v[k].in.length);
			if (v[k].falls && k + 1 < n && meet(&in[k + 1], &seen[k + 1], &out))
				PUSH(k + 1);
			if (v[k].target >= 0 && meet(&in[v[k].target], &seen[v[k].target], &out))
				PUSH((size_t)v[k].target);
			if (!v[k].indirect || !meet(&jumps, &any_jump, &in[k]))
				continue;
			/* Any instruction may be that jump's target. */
			for (size_t t = 0; t < n; t++)
				if (seen[t] && meet(&in[t], &seen[t], &jumps))
					PUSH(t);
		}
	}
#undef PUSH
	free(queue);
	free(queued);
	free(seen);
	return in;
}

/* Analyse one calling unit: each lookup call's name, or the reason it is
 * unknown. */
static void analyse_caller(mg_scan_ctx *cx, uint32_t unit)
{
	const mg_unit *u = &cx->map->units[unit];
	const uint8_t *b = mg_unit_bytes(cx, unit);
	char where[300];
	size_t n;
	if (b == NULL)
		return;       /* unreadable: the scan already widened */
	insn *v = decode_all(cx, b, (size_t)(u->end - u->start), &n);
	reg_state *st = v ? register_states(v, n, u->start) : NULL;
	if (st == NULL) {
		unit_label(cx, unit, where, sizeof(where));
		unknown_because(cx, where, "out of memory analysing the call");
		free(v);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		uint64_t next_ip = u->start + v[k].off + v[k].in.length;
		bool loads;
		if (!targets_lookup(cx, &v[k].in, v[k].op, next_ip, &loads))
			continue;
		unit_label(cx, unit, where, sizeof(where));
		snprintf(where + strlen(where), sizeof(where) - strlen(where), "+0x%x", v[k].off);
		char *name = NULL;
		if (loads)
			unknown_because(cx, where, "takes the lookup function's address");
		else if (!st[k].known[RSI_INDEX] ||
			 (name = constant_string(cx, st[k].value[RSI_INDEX])) == NULL)
			unknown_because(cx, where, "a name computed at run time");
		else if (!g_hash_table_contains(cx->dlsym.names, name))
			g_hash_table_add(cx->dlsym.names, name), name = NULL;
		free(name);
	}
	free(st);
	free(v);
}

/* Reach the exports of one name in every module. */
static size_t reach_name(mg_scan_ctx *cx, const char *name)
{
	size_t added = 0;
	for (size_t i = 0; i < cx->map->nmodules; i++) {
		const mg_loaded_module *lm = &cx->map->modules[i];
		uint64_t resolver;
		uint64_t at = mg_ifunc_export_target(cx, lm, name, &resolver);
		uint32_t u = at ? mg_codemap_find(cx->map, at) : MG_NO_UNIT;
		if (u == MG_NO_UNIT)
			continue;
		if (resolver)      /* dlsym runs the resolver */
			mg_reach_address(cx, resolver, MG_WHY_DLSYM, MG_NO_UNIT, 0);
		if (!cx->state[u].queued)
			added++;
		mg_reach_unit(cx, u, MG_WHY_DLSYM, MG_NO_UNIT, 0);
	}
	/* dlsym returns data objects as well */
	size_t before = cx->data.nreached;
	mg_data_reach_export(cx, name);
	return added + (cx->data.nreached - before);
}

bool mg_dlsym_resolve(mg_scan_ctx *cx)
{
	mg_dlsym_state *d = &cx->dlsym;
	bool more = false;
	while (d->analysed < d->callers->len)
		analyse_caller(cx, g_array_index(d->callers, uint32_t, d->analysed++));
	GHashTableIter it;
	gpointer key;
	g_hash_table_iter_init(&it, d->names);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		size_t n = reach_name(cx, key);
		d->bounded_added += n;
		more |= n > 0;
	}
	return more;
}
