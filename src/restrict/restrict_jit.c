/*
 * restrict_jit.c - JIT engines: HotSpot's and V8's CPU view.
 *
 * HotSpot (OpenJDK) clamps its feature bits by its flags at start-up
 * (UseAVX < 3 clears every AVX-512 bit, < 2 AVX2, < 1 AVX; UseSSE < 4 the
 * SSE4 bits, ...) and emits an instruction beyond the baseline only after
 * testing those bits or a Use* flag (docs/jit.md).  The flags go in
 * JAVA_TOOL_OPTIONS, which every JVM reads (also one a script starts),
 * so argv is not edited; options on the command line and in
 * _JAVA_OPTIONS come later and would win, so they are looked for.
 *
 * V8 (node) reads its --no-enable-* flags only from the command line:
 * node 20 refuses them in NODE_OPTIONS ("is not allowed in NODE_OPTIONS",
 * exit 9).  They are inserted after argv[0] when COMMAND is node.
 */
#include "restrict/restrict.h"

#include <stdlib.h>
#include <string.h>

#define HOTSPOT_WHAT "HotSpot (OpenJDK 17): JAVA_TOOL_OPTIONS, read by every JVM"
#define V8_WHAT "V8 (node 20): its --no-enable-* flags, after argv[0]"

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* --- HotSpot ------------------------------------------------------------------------- */

/* Features HotSpot keeps only with UseAVX=3 (its AVX-512 bits). */
static const char *const hotspot_avx3[] = {
	"avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512pf", "avx512er",
	"avx512ifma", "avx512vbmi", "avx512_vbmi2", "avx512_vnni", "avx512_vpopcntdq",
	"avx512_bitalg", "avx512_bf16", "avx512_fp16", "vaes", "vpclmulqdq", "gfni",
};

/* A feature and the flag that alone turns its use off. */
static const char *const hotspot_flags[][2] = {
	{ "sha_ni", "-XX:-UseSHA" }, { "aes", "-XX:-UseAES" }, { "pclmulqdq", "-XX:-UseCLMUL" },
	{ "fma", "-XX:-UseFMA" }, { "bmi1", "-XX:-UseBMI1Instructions" },
	{ "bmi1", "-XX:-UseCountTrailingZerosInstruction" },
	{ "bmi2", "-XX:-UseBMI2Instructions" },
	{ "abm", "-XX:-UseCountLeadingZerosInstruction" },
	{ "popcnt", "-XX:-UsePopCountInstruction" }, { "rtm", "-XX:-UseRTMLocking" },
};

/* Features HotSpot may use that no flag turns off (JDK 17). */
static const char *const hotspot_unflagged[] = { "adx", "clflushopt", "clwb" };

static int append(char *buf, size_t size, size_t *used, const char *word)
{
	int w = snprintf(buf + *used, size - *used, "%s%s", *used ? " " : "", word);
	if (w < 0 || (size_t)w >= size - *used)
		return -1;
	*used += (size_t)w;
	return 0;
}

/* UseAVX / UseSSE: the highest level whose features are all allowed,
 * or -1 when the host's own level is already within. */
static int hotspot_avx(const mg_restriction *r)
{
	bool avx3_removed = false;
	for (size_t i = 0; i < sizeof(hotspot_avx3) / sizeof(hotspot_avx3[0]); i++)
		avx3_removed |= mg_restrict_removed(r, hotspot_avx3[i]);
	if (mg_restrict_removed(r, "avx"))
		return 0;
	if (mg_restrict_removed(r, "avx2"))
		return 1;
	return avx3_removed ? 2 : -1;
}

static int hotspot_sse(const mg_restriction *r)
{
	if (mg_restrict_removed(r, "sse2"))
		return 1;
	if (mg_restrict_removed(r, "pni") || mg_restrict_removed(r, "ssse3"))
		return 2;
	if (mg_restrict_removed(r, "sse4_1") || mg_restrict_removed(r, "sse4_2"))
		return 3;
	return -1;
}

/* Options COMMAND sets itself that override ours: the same flag names. */
static int hotspot_conflicts(const mg_restrict_input *in, const char *ours,
			     mg_restriction *r, mg_error *err)
{
	const char *sources[3] = { NULL, mg_restrict_getenv(in->envp, "JDK_JAVA_OPTIONS"),
				   mg_restrict_getenv(in->envp, "_JAVA_OPTIONS") };
	char args[2048] = "";
	size_t used = 0;
	bool java = in->argv[0] && strcmp(base_name(in->argv[0]), "java") == 0;
	for (size_t i = 1; java && in->argv[i]; i++)
		if (strncmp(in->argv[i], "-XX:", 4) == 0 &&
		    append(args, sizeof(args), &used, in->argv[i]) != 0)
			break;
	sources[0] = args;
	static const char *const where[] = { "its command line", "JDK_JAVA_OPTIONS",
					     "_JAVA_OPTIONS" };
	for (size_t s = 0; s < 3; s++) {
		if (sources[s] == NULL)
			continue;
		char buf[2048];
		snprintf(buf, sizeof(buf), "%s", sources[s]);
		char *save = NULL;
		for (char *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
			if (strncmp(w, "-XX:", 4) != 0)
				continue;
			/* -XX:UseAVX=3 vs our -XX:UseAVX=2; -XX:+UseSHA vs -XX:-UseSHA */
			const char *flag = w + 4 + (w[4] == '+' || w[4] == '-');
			size_t n = strcspn(flag, "=");
			char key[96];
			snprintf(key, sizeof(key), "%.*s", (int)n, flag);
			char *hit = strstr(ours, key);
			if (hit && (hit[strlen(key)] == '=' || hit[strlen(key)] == ' ' ||
				    hit[strlen(key)] == '\0') &&
			    strstr(ours, w) == NULL &&
			    mg_restrict_add_cannot(r, err, "HotSpot: %s sets %s, which overrides "
						   "JAVA_TOOL_OPTIONS", where[s], w) != 0)
				return -1;
		}
	}
	return 0;
}

int mg_restrict_hotspot(const mg_restrict_input *in, mg_restriction *r, mg_error *err)
{
	char ours[512] = "", level[32];
	size_t used = 0;
	int avx = hotspot_avx(r), sse = hotspot_sse(r);
	if (avx >= 0) {
		snprintf(level, sizeof(level), "-XX:UseAVX=%d", avx);
		if (append(ours, sizeof(ours), &used, level) != 0)
			return mg_fail(err, MG_ERR_INTERNAL, "HotSpot options too long");
	}
	if (sse >= 0) {
		snprintf(level, sizeof(level), "-XX:UseSSE=%d", sse);
		if (append(ours, sizeof(ours), &used, level) != 0)
			return mg_fail(err, MG_ERR_INTERNAL, "HotSpot options too long");
	}
	for (size_t i = 0; i < sizeof(hotspot_flags) / sizeof(hotspot_flags[0]); i++)
		if (mg_restrict_removed(r, hotspot_flags[i][0]) &&
		    append(ours, sizeof(ours), &used, hotspot_flags[i][1]) != 0)
			return mg_fail(err, MG_ERR_INTERNAL, "HotSpot options too long");
	for (size_t i = 0; i < sizeof(hotspot_unflagged) / sizeof(hotspot_unflagged[0]); i++)
		if (mg_restrict_removed(r, hotspot_unflagged[i]) &&
		    mg_restrict_add_cannot(r, err, "HotSpot: no flag keeps its %s code out "
					   "(JDK 17)", hotspot_unflagged[i]) != 0)
			return -1;
	if (used == 0)
		return 0;
	if (hotspot_conflicts(in, ours, r, err) != 0)
		return -1;
	const char *old = mg_restrict_getenv(in->envp, "JAVA_TOOL_OPTIONS");
	char *value;
	/* Later options win: ours after the user's. */
	if (asprintf(&value, "%s%s%s", old && old[0] ? old : "", old && old[0] ? " " : "",
		     ours) < 0)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	int rc = mg_restrict_add_env(r, "JAVA_TOOL_OPTIONS", value, HOTSPOT_WHAT, err);
	free(value);
	return rc;
}

/* --- V8 ------------------------------------------------------------------------------ */

/* V8 11.3's switches (`node --v8-options`), by the feature each gates. */
static const char *const v8_flags[][2] = {
	{ "pni", "--no-enable-sse3" }, { "ssse3", "--no-enable-ssse3" },
	{ "sse4_1", "--no-enable-sse4-1" }, { "sse4_2", "--no-enable-sse4-2" },
	{ "lahf_lm", "--no-enable-sahf" }, { "avx", "--no-enable-avx" },
	{ "avx2", "--no-enable-avx2" }, { "fma", "--no-enable-fma3" },
	{ "bmi1", "--no-enable-bmi1" }, { "bmi2", "--no-enable-bmi2" },
	{ "abm", "--no-enable-lzcnt" }, { "popcnt", "--no-enable-popcnt" },
};

int mg_restrict_v8(const mg_restrict_input *in, mg_restriction *r, mg_error *err)
{
	size_t n = 0;
	for (size_t i = 0; i < sizeof(v8_flags) / sizeof(v8_flags[0]); i++)
		n += mg_restrict_removed(r, v8_flags[i][0]);
	if (n == 0)
		return 0;
	const char *cmd = in->argv[0] ? base_name(in->argv[0]) : "";
	if (strcmp(cmd, "node") != 0 && strcmp(cmd, "nodejs") != 0)
		return mg_restrict_add_cannot(r, err, "V8: a node that COMMAND starts itself "
			"(node reads --no-enable-* only from its command line, not from "
			"NODE_OPTIONS): run node directly under migratable run");
	for (size_t i = 0; i < sizeof(v8_flags) / sizeof(v8_flags[0]); i++)
		if (mg_restrict_removed(r, v8_flags[i][0]) &&
		    mg_restrict_add_arg(r, v8_flags[i][1], err) != 0)
			return -1;
	r->args_dispatcher = V8_WHAT;
	/* A later --enable-X of COMMAND's own would win. */
	for (size_t i = 1; in->argv[i]; i++) {
		if (in->argv[i][0] != '-')
			break;   /* the script: what follows is its own */
		if (strncmp(in->argv[i], "--enable-", 9) == 0 &&
		    mg_restrict_add_cannot(r, err, "V8: COMMAND's own %s overrides ours",
					   in->argv[i]) != 0)
			return -1;
	}
	return 0;
}
