/*
 * wl_montmul.c - Montgomery multiplication of two different 2048-bit
 * numbers, forever: libcrypto's bn_mul_mont loads OPENSSL_ia32cap_P's
 * third word into %r11d and jumps into bn_mul4x_mont, which tests it for
 * BMI2 and ADX (then going on in bn_mulx4x_mont) and otherwise runs its
 * own loop.  So the thread is nearly always inside bn_mul4x_mont, past
 * the test, whenever it is stopped.  With "sqr" it squares instead
 * (bn_sqr8x_mont).  Prints "ready" once set up.
 */
// LDLIBS: -lcrypto
#include <openssl/bn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	int square = argc > 1;
	(void)argv;
	BN_CTX *ctx = BN_CTX_new();
	BN_MONT_CTX *mont = BN_MONT_CTX_new();
	BIGNUM *m = BN_new(), *a = BN_new(), *b = BN_new(), *r = BN_new();
	if (ctx == NULL || mont == NULL || m == NULL || a == NULL || b == NULL || r == NULL ||
	    BN_rand(m, 2048, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD) != 1 ||
	    BN_rand_range(a, m) != 1 || BN_rand_range(b, m) != 1 ||
	    BN_MONT_CTX_set(mont, m, ctx) != 1 || BN_to_montgomery(a, a, mont, ctx) != 1 ||
	    BN_to_montgomery(b, b, mont, ctx) != 1) {
		fprintf(stderr, "wl_montmul: libcrypto set-up failed\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		if (BN_mod_mul_montgomery(r, a, square ? a : b, mont, ctx) != 1 ||
		    BN_copy(a, r) == NULL)
			return 1;
}
