/* rsa.c - the study's "adox_adcx" workload (and, as libstudy_rsa.so, the
 * C part of "pyrsa"): generate an RSA-1024 key with libcrypto's EVP
 * interface, then encrypt a message with BN_mod_exp (n, e of that key),
 * in a loop.  libcrypto's Montgomery multiplication takes its MULX/ADCX/
 * ADOX code when the CPU has BMI2 and ADX (OPENSSL_ia32cap_P).
 */
// LDLIBS: -lcrypto
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "study.h"

static volatile int sink;

/* The ciphertext of the last round, in hex (OPENSSL_free it), or NULL. */
static char *last_hex;

static int encrypt_with(EVP_PKEY *key)
{
	static const char text[] = "Hello, OpenSSL!";
	BIGNUM *n = NULL, *e = NULL, *m = BN_new(), *c = BN_new();
	BN_CTX *bctx = BN_CTX_new();
	int rc = -1;
	if (m && c && bctx &&
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) == 1 &&
	    BN_bin2bn((const unsigned char *)text, sizeof(text) - 1, m) != NULL &&
	    BN_mod_exp(c, m, e, n, bctx) == 1) {
		sink = BN_num_bits(c);
		OPENSSL_free(last_hex);
		last_hex = BN_bn2hex(c);
		rc = last_hex ? 0 : -1;
	}
	BN_free(n);
	BN_free(e);
	BN_free(m);
	BN_free(c);
	BN_CTX_free(bctx);
	return rc;
}

/* One round: a new key, one modular exponentiation with it. */
int study_rsa_step(void)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
	EVP_PKEY *key = NULL;
	int rc = -1;
	if (ctx && EVP_PKEY_keygen_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 1024) == 1 &&
	    EVP_PKEY_keygen(ctx, &key) == 1)
		rc = encrypt_with(key);
	if (rc != 0)
		fprintf(stderr, "rsa: key generation or BN_mod_exp failed\n");
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* The last round's ciphertext in hex (owned by the library). */
const char *study_rsa_last_hex(void)
{
	return last_hex;
}

#ifndef STUDY_LIB
static int rsa_step(void)
{
	if (study_rsa_step() != 0)
		return -1;
	printf("encrypted: %s\n", last_hex);
	return 0;
}

int main(void)
{
	return study_loop(rsa_step, 20);
}
#endif
