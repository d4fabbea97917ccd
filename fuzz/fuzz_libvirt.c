/*
 * fuzz_libvirt.c - libFuzzer target for libvirt's cpu_map (mg_libvirt_load).
 *
 * The input is written as index.xml of a private directory, next to a
 * valid x86_features.xml, so that includes, features and model chains
 * (inheritance, removed features, self-reference) all get exercised.  It
 * must either give targets or fail with MG_ERR_USAGE and a one-line
 * message; never crash, leak or hang.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verdict/catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char index_path[96];

static const char features_xml[] =
	"<cpus>\n"
	"  <feature name='sse2'><cpuid eax_in='0x01' edx='0x04000000'/></feature>\n"
	"  <feature name='avx2'><cpuid eax_in='0x07' ecx_in='0x00' ebx='0x00000020'/></feature>\n"
	"  <feature name='lm'><cpuid eax_in='0x80000001' edx='0x20000000'/></feature>\n"
	"</cpus>\n";

static int write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	size_t w = fwrite(p, 1, n, f);
	return fclose(f) == 0 && w == n ? 0 : -1;
}

static char features_path[128];

static void cleanup(void)
{
	unlink(index_path);
	unlink(features_path);
	rmdir(dir);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/fuzz-libvirt-%d", (int)getpid());
	snprintf(index_path, sizeof(index_path), "%s/index.xml", dir);
	snprintf(features_path, sizeof(features_path), "%s/x86_features.xml", dir);
	if ((mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0) ||
	    write_file(features_path, features_xml, sizeof(features_xml) - 1) != 0)
		abort();
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dir[0] == '\0')
		setup();
	if (write_file(index_path, data, size) != 0)
		abort();
	mg_target_list l = { 0 };
	mg_error err = { 0 };
	if (mg_libvirt_load(dir, &l, &err) != 0 &&
	    ((err.code != MG_ERR_USAGE && err.code != MG_ERR_INTERNAL && err.code != MG_ERR_IO) ||
	     strchr(err.msg, '\n') != NULL))
		abort();
	mg_target_list_free(&l);
	return 0;
}
