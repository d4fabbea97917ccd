/*
 * restrict_crypto.c - OpenSSL's capability vector and libgcrypt's
 * hardware-feature deny list.
 *
 * OpenSSL 3.0 (libcrypto) reads CPUID into OPENSSL_ia32cap_P at load
 * (OPENSSL_cpuid_setup, crypto/cpuid.c) and every assembler path tests
 * those words when it is called.  OPENSSL_ia32cap=~V1:~V2 clears bits:
 * V1 = CPUID.1:EDX | CPUID.1:ECX << 32 (bit 11 of the ECX half is AMD's
 * XOP, which OpenSSL moves there), V2 = CPUID.(7,0):EBX | ECX << 32.
 * 3.0 reads no other leaf.
 *
 * libgcrypt 1.10 reads its deny list from /etc/gcrypt/hwf.deny
 * (HWF_DENY_FILE) when it initialises, and has no environment variable
 * for it: the file is planned here and made visible by
 * mg_restrict_enter_namespace().
 */
#include "restrict/restrict.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/file.h"

#define OPENSSL_WHAT "OpenSSL 3.0 (libcrypto): its capability vector"
#define GCRYPT_WHAT "libgcrypt 1.10: hwf.deny, in a private mount namespace"
#define GCRYPT_DENY "/etc/gcrypt/hwf.deny"

/* The two masks of the removed features OpenSSL 3.0 can see. */
static void openssl_masks(const mg_restriction *r, uint64_t *v1, uint64_t *v2)
{
	*v1 = *v2 = 0;
	for (mg_feature_id id = mg_fset_next(&r->removed, -1); id >= 0;
	     id = mg_fset_next(&r->removed, id)) {
		const mg_feature_info *f = mg_feature_get(id);
		if (f->field_width)
			continue;
		if (f->leaf == 1 && (f->reg == MG_EDX || f->reg == MG_ECX))
			*v1 |= 1ull << (f->bit + (f->reg == MG_ECX ? 32 : 0));
		else if (f->leaf == 7 && f->subleaf == 0 && (f->reg == MG_EBX || f->reg == MG_ECX))
			*v2 |= 1ull << (f->bit + (f->reg == MG_ECX ? 32 : 0));
	}
	if (mg_restrict_removed(r, "xop"))
		*v1 |= 1ull << (11 + 32);
}

/* One word of OPENSSL_ia32cap: [~]NUMBER (strtoull base 0, as
 * ossl_strtouint64 reads it).  Returns the rest of the text, NULL if it
 * is not a number. */
static const char *parse_word(const char *s, bool *clear, uint64_t *v)
{
	char *end;
	*clear = *s == '~';
	if (*clear)
		s++;
	if (!isdigit((unsigned char)*s))
		return NULL;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno ? NULL : end;
}

/*
 * Merge an existing OPENSSL_ia32cap: masks add to ours; an absolute value
 * keeps its bits minus ours.  Anything else is replaced (said).
 */
static int openssl_value(const char *old, uint64_t v1, uint64_t v2, mg_restriction *r,
			 char buf[96], mg_error *err)
{
	bool c1 = true, c2 = true, have2 = true;
	uint64_t o1 = 0, o2 = 0;
	const char *rest = old ? parse_word(old, &c1, &o1) : NULL;
	if (old && rest && *rest == ':')
		rest = parse_word(rest + 1, &c2, &o2);
	else if (old && rest && *rest == '\0')
		have2 = false;
	if (old && (rest == NULL || *rest != '\0')) {
		if (mg_restrict_add_cannot(r, err, "OPENSSL_ia32cap='%s' is not of the form "
					   "[~]N[:[~]N]: replaced", old) != 0)
			return -1;
		old = NULL;
	}
	if (old == NULL) {
		snprintf(buf, 96, "~0x%" PRIx64 ":~0x%" PRIx64, v1, v2);
		return 0;
	}
	/* Without a second word OpenSSL clears leaf 7 entirely: keep that. */
	if (!have2) {
		c2 = false;
		o2 = 0;
	}
	snprintf(buf, 96, "%s0x%" PRIx64 ":%s0x%" PRIx64, c1 ? "~" : "",
		 c1 ? (o1 | v1) : (o1 & ~v1), c2 ? "~" : "", c2 ? (o2 | v2) : (o2 & ~v2));
	return 0;
}

int mg_restrict_openssl(const mg_restrict_input *in, mg_restriction *r, mg_error *err)
{
	uint64_t v1, v2;
	char value[96];
	openssl_masks(r, &v1, &v2);
	if (v1 == 0 && v2 == 0)
		return 0;
	if (openssl_value(mg_restrict_getenv(in->envp, "OPENSSL_ia32cap"), v1, v2, r, value,
			  err) != 0)
		return -1;
	return mg_restrict_add_env(r, "OPENSSL_ia32cap", value, OPENSSL_WHAT, err);
}

/* --- libgcrypt ---------------------------------------------------------------------- */

/* Linux flag -> libgcrypt 1.10.1's hwf name (src/hwfeatures.c). */
static const char *const gcrypt_names[][2] = {
	{ "ssse3", "intel-ssse3" }, { "sse4_1", "intel-sse4.1" },
	{ "pclmulqdq", "intel-pclmul" }, { "aes", "intel-aesni" },
	{ "rdrand", "intel-rdrand" }, { "avx", "intel-avx" }, { "avx2", "intel-avx2" },
	{ "bmi2", "intel-bmi2" }, { "sha_ni", "intel-shaext" },
	/* set only when the CPU has both */
	{ "vaes", "intel-vaes-vpclmul" }, { "vpclmulqdq", "intel-vaes-vpclmul" },
};

/* Is libgcrypt there to be restricted at all? */
static bool libgcrypt_installed(void)
{
	static const char *const where[] = {
		"/usr/lib/x86_64-linux-gnu/libgcrypt.so.20", "/lib/x86_64-linux-gnu/libgcrypt.so.20",
		"/usr/lib64/libgcrypt.so.20", "/usr/lib/libgcrypt.so.20",
	};
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], F_OK) == 0)
			return true;
	return false;
}

int mg_restrict_libgcrypt(const mg_restrict_input *in, mg_restriction *r, mg_error *err)
{
	(void)in;
	char lines[512] = "";
	size_t used = 0;
	for (size_t i = 0; i < sizeof(gcrypt_names) / sizeof(gcrypt_names[0]); i++) {
		const char *name = gcrypt_names[i][1];
		if (!mg_restrict_removed(r, gcrypt_names[i][0]) || strstr(lines, name))
			continue;
		int w = snprintf(lines + used, sizeof(lines) - used, "%s\n", name);
		if (w < 0 || (size_t)w >= sizeof(lines) - used)
			return mg_fail(err, MG_ERR_INTERNAL, "hwf.deny too long");
		used += (size_t)w;
	}
	if (used == 0 || !libgcrypt_installed())
		return 0;
	/* The deny list the system already has stays in force. */
	char *old = NULL, *text = NULL;
	size_t len = 0;
	mg_error ignored = { 0 };
	if (access(GCRYPT_DENY, F_OK) == 0)
		old = mg_read_file(GCRYPT_DENY, 64 * 1024, MG_ERR_IO, &len, &ignored);
	if (old && len > 64 * 1024) {
		free(old);
		old = NULL;
	}
	int n = asprintf(&text, "%s%s# migratable run: features outside the targets\n%s",
			 old ? old : "", old && len && old[len - 1] != '\n' ? "\n" : "", lines);
	free(old);
	if (n < 0)
		return mg_fail(err, MG_ERR_INTERNAL, "out of memory");
	int rc = mg_restrict_add_file(r, GCRYPT_DENY, text, GCRYPT_WHAT, err);
	free(text);
	return rc;
}
