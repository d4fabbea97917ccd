/* criu_cpuinfo.c - cpuinfo.img (`criu cpuinfo dump`) and compel's
 * capability-word layout. */
#include "process/criu_image.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuinfo.pb-c.h"

/* compel/arch/x86/src/lib/include/uapi/asm/cpu.h, enum cpuid_leafs. */
static const struct {
	bool cpuid;
	uint32_t leaf, subleaf;
	mg_cpuid_reg reg;
} cap_words[] = {
	[0]  = { true, 0x00000001, 0, MG_EDX },
	[1]  = { true, 0x80000001, 0, MG_EDX },
	[2]  = { false, 0x80860001, 0, MG_EDX },   /* Transmeta: not read here */
	[3]  = { false, 0, 0, 0 },                 /* Linux-defined */
	[4]  = { true, 0x00000001, 0, MG_ECX },
	[5]  = { false, 0xC0000001, 0, MG_EDX },   /* VIA/Centaur: not read here */
	[6]  = { true, 0x80000001, 0, MG_ECX },
	[7]  = { false, 0, 0, 0 },                 /* Linux-defined */
	[8]  = { false, 0, 0, 0 },                 /* Linux-defined */
	[9]  = { true, 0x00000007, 0, MG_EBX },
	[10] = { true, 0x0000000D, 1, MG_EAX },
	[11] = { true, 0x00000007, 0, MG_ECX },
	[12] = { true, 0x0000000F, 1, MG_EDX },
	[13] = { true, 0x80000008, 0, MG_EBX },
	[14] = { true, 0x00000006, 0, MG_EAX },
	[15] = { true, 0x8000000A, 0, MG_EDX },
	[16] = { true, 0x0000000F, 0, MG_EDX },
	[17] = { true, 0x80000007, 0, MG_EBX },
	[18] = { true, 0x00000007, 0, MG_EDX },
};

bool mg_criu_cap_word_location(unsigned word, uint32_t *leaf, uint32_t *subleaf,
			       mg_cpuid_reg *reg)
{
	if (word >= sizeof(cap_words) / sizeof(cap_words[0]) || !cap_words[word].cpuid)
		return false;
	*leaf = cap_words[word].leaf;
	*subleaf = cap_words[word].subleaf;
	*reg = cap_words[word].reg;
	return true;
}

bool mg_criu_is_image_file(const char *path)
{
	uint8_t b[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, b, sizeof(b));
	close(fd);
	if (n != (ssize_t)sizeof(b))
		return false;
	uint32_t magic = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
			 (uint32_t)b[3] << 24;
	return magic == MG_CRIU_IMG_COMMON_MAGIC || magic == MG_CRIU_IMG_SERVICE_MAGIC;
}

int mg_criu_cpuinfo_read(const char *path, mg_criu_cpuinfo *out, mg_error *err)
{
	memset(out, 0, sizeof(*out));
	uint8_t *data;
	size_t len;
	if (mg_criu_read_file(path, &data, &len, err) < 0)
		return -1;
	int rc = mg_criu_cpuinfo_parse(path, data, len, out, err);
	free(data);
	return rc;
}

int mg_criu_cpuinfo_parse(const char *path, const uint8_t *data, size_t len,
			  mg_criu_cpuinfo *out, mg_error *err)
{
	memset(out, 0, sizeof(*out));
	size_t off;
	int rc = -1;
	CpuinfoEntry *ce = NULL;
	const uint8_t *msg;
	size_t mlen;
	if (mg_criu_check_magic(path, data, len, MG_CRIU_CPUINFO_MAGIC, &off, err) < 0)
		goto out;
	int r = mg_criu_next_message(path, data, len, &off, &msg, &mlen, err);
	if (r == 0)
		mg_fail(err, MG_ERR_IO, "%s: no cpuinfo entry", path);
	if (r <= 0)
		goto out;
	ce = (CpuinfoEntry *)mg_criu_unpack(path, &cpuinfo_entry__descriptor, msg, mlen, err);
	if (ce == NULL)
		goto out;
	if (ce->n_x86_entry == 0) {
		mg_fail(err, MG_ERR_IO, "%s: no x86 entry (dumped on another architecture?)", path);
		goto out;
	}
	const CpuinfoX86Entry *x = ce->x86_entry[0];
	if (x->n_capability > MG_CRIU_CAP_WORDS_MAX) {
		mg_fail(err, MG_ERR_IO, "%s: %zu capability words, at most %d expected",
			path, x->n_capability, MG_CRIU_CAP_WORDS_MAX);
		goto out;
	}
	out->vendor = x->vendor_id <= 2 ? (int)x->vendor_id : 0;
	out->family = x->cpu_family;
	out->model = x->model;
	out->stepping = x->stepping;
	out->capability_ver = x->capability_ver;
	memcpy(out->caps, x->capability, x->n_capability * sizeof(uint32_t));
	out->ncaps = x->n_capability;
	if (x->model_id != NULL && (out->model_id = strdup(x->model_id)) == NULL) {
		mg_fail(err, MG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	out->has_xfeatures = x->has_xfeatures_mask;
	out->xfeatures_mask = x->xfeatures_mask;
	out->has_xsave_size = x->has_xsave_size;
	out->has_xsave_size_max = x->has_xsave_size_max;
	out->xsave_size = x->has_xsave_size ? x->xsave_size : 0;
	out->xsave_size_max = x->has_xsave_size_max ? x->xsave_size_max : 0;
	rc = 0;
out:
	if (ce)
		protobuf_c_message_free_unpacked(&ce->base, NULL);
	if (rc < 0)
		mg_criu_cpuinfo_free(out);
	return rc;
}

void mg_criu_cpuinfo_free(mg_criu_cpuinfo *ci)
{
	if (ci == NULL)
		return;
	free(ci->model_id);
	ci->model_id = NULL;
}
