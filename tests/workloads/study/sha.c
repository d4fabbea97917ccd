/* sha.c - the study's "sha" workload: SHA-256 of a message with
 * OpenSSL's libcrypto (EVP), in a loop.  libcrypto picks its SHA-256 code
 * (SHA-NI, AVX2, AVX, SSSE3, plain x86-64) from OPENSSL_ia32cap_P.
 */
// LDLIBS: -lcrypto
#include <openssl/evp.h>

#include "study.h"

static unsigned char message[1024];
static volatile unsigned char sink;

/* One digest of the message. */
int study_sha_step(void)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	if (EVP_Digest(message, sizeof(message), md, &len, EVP_sha256(), NULL) != 1 || len != 32) {
		fprintf(stderr, "sha: EVP_Digest failed\n");
		return -1;
	}
	sink = md[0];
	message[0] = md[31];   /* the next message depends on this digest */
	for (unsigned i = 0; i < len; i++)
		printf("%02x", md[i]);
	printf("\n");
	return 0;
}

#ifndef STUDY_LIB
int main(void)
{
	memset(message, 'm', sizeof(message));
	return study_loop(study_sha_step, 20);
}
#endif
