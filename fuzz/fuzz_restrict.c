/*
 * fuzz_restrict.c - libFuzzer entry for restriction plans (src/restrict).
 *
 * The environment a user runs `migratable run` in is input: the planners
 * parse and merge GLIBC_TUNABLES, OPENSSL_ia32cap, NPY_DISABLE_CPU_FEATURES,
 * OPENBLAS_CORETYPE, JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS, _JAVA_OPTIONS
 * and COMMAND's own arguments.  The first 64 bytes choose the host's and
 * the targets' features, the rest is split at NUL bytes into those
 * variables' values and argv.  A plan must always be made, applied and
 * printed, never crash, leak or hang; every planned variable must appear
 * exactly once in the environment COMMAND gets.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restrict/restrict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const vars[] = {
	"GLIBC_TUNABLES=", "OPENSSL_ia32cap=", "NPY_DISABLE_CPU_FEATURES=", "OPENBLAS_CORETYPE=",
	"JAVA_TOOL_OPTIONS=", "JDK_JAVA_OPTIONS=", "_JAVA_OPTIONS=", "LD_BIND_NOW=",
};
#define NVARS (sizeof(vars) / sizeof(vars[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mg_feature_set host, allowed;
	mg_fset_clear(&host);
	mg_fset_clear(&allowed);
	for (size_t id = 0; id < mg_feature_count() && id / 8 < 32 && id / 8 < size; id++) {
		if (data[id / 8] >> (id % 8) & 1)
			mg_fset_add(&host, (mg_feature_id)id);
		if (id / 8 + 32 < size && (data[32 + id / 8] >> (id % 8) & 1))
			mg_fset_add(&allowed, (mg_feature_id)id);
	}
	size_t off = size < 64 ? size : 64;
	char *text = malloc(size - off + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data + off, size - off);
	text[size - off] = '\0';

	/* NUL-separated fields: NVARS values, then argv words. */
	char *env[NVARS + 1], *argv[9];
	size_t nenv = 0, nargv = 0;
	char *p = text, *end = text + (size - off);
	for (size_t i = 0; i < NVARS && p < end; i++, p += strlen(p) + 1) {
		char *e = malloc(strlen(vars[i]) + strlen(p) + 1);
		if (e == NULL)
			break;
		strcpy(e, vars[i]);
		strcat(e, p);
		env[nenv++] = e;
	}
	env[nenv] = NULL;
	argv[nargv++] = (char *)"node";
	for (; nargv < 8 && p < end; p += strlen(p) + 1)
		argv[nargv++] = p;
	argv[nargv] = NULL;
	if (size > 0 && (data[0] & 1))
		argv[0] = (char *)"java";

	mg_restrict_input in = { .host = &host, .host_vendor = "AuthenticAMD", .allowed = &allowed,
				 .argv = argv, .envp = env, .lazy_binding = size > 1 && (data[1] & 1) };
	mg_restriction r;
	mg_error err = { 0 };
	if (mg_restrict_plan(&in, &r, &err) != 0)
		abort();   /* only allocation can fail */
	if (!mg_fset_is_subset(&r.removed, &host) || !mg_fset_is_subset(&r.allowed, &allowed))
		abort();
	char **e = mg_restrict_environ(&r, env, &err);
	char **a = mg_restrict_argv(&r, argv, &err);
	if (e == NULL || a == NULL)
		abort();
	for (size_t i = 0; i < r.nenv; i++) {
		size_t n = 0, len = strlen(r.env[i].name);
		for (size_t j = 0; e[j]; j++)
			n += strncmp(e[j], r.env[i].name, len) == 0 && e[j][len] == '=';
		if (n != 1)
			abort();
	}
	FILE *out = fopen("/dev/null", "w");
	if (out) {
		if (mg_restriction_print(out, &r, 1, true, &err) != 0 ||
		    mg_restriction_print(out, &r, 1, false, &err) != 0)
			abort();
		fclose(out);
	}
	free(e);
	free(a);
	mg_restriction_free(&r);
	for (size_t i = 0; i < nenv; i++)
		free(env[i]);
	free(text);
	return 0;
}
