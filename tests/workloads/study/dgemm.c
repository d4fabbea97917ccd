/* dgemm.c - the study's "c_matrix_multiplication" workload: C = A * B
 * with OpenBLAS's cblas_dgemm (4x4 doubles, as the study's program), in a
 * loop.  OpenBLAS (built with DYNAMIC_ARCH) picks its kernels once, from
 * CPUID's family/model or $OPENBLAS_CORETYPE; the program prints that
 * choice.
 */
// LDLIBS: -lopenblas
#include <cblas.h>

#include "study.h"

enum { N = 4 };
static double a[N * N], b[N * N], c[N * N];
static volatile double sink;

static int dgemm_step(void)
{
	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0, a, N, b, N,
		    0.0, c, N);
	if (c[0] == 0.0) {   /* row 0 of A times column 0 of B is positive */
		fprintf(stderr, "dgemm: wrong product\n");
		return -1;
	}
	sink = c[N * N - 1];
	printf("C =");
	for (int i = 0; i < N * N; i++)
		printf(" %.2f", c[i]);
	printf("\n");
	return 0;
}

int main(void)
{
	for (int i = 0; i < N * N; i++) {
		a[i] = i + 1;
		b[i] = i + 1;
	}
	printf("dgemm: OpenBLAS core %s\n", openblas_get_corename());
	return study_loop(dgemm_step, 20);
}
