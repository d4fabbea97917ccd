/*
 * criu_pb.c - CRIU image framing: magic words, then u32 (little-endian)
 * length-prefixed protobuf messages.  Every length is checked against
 * what is left of the file and against MG_CRIU_MSG_MAX before use.
 */
#include "process/criu_image.h"
#include "process/criu_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.pb-c.h"
#include "cpuinfo.pb-c.h"
#include "fdinfo.pb-c.h"
#include "inventory.pb-c.h"
#include "mm.pb-c.h"
#include "pagemap.pb-c.h"
#include "pstree.pb-c.h"

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int mg_criu_read_file(const char *path, uint8_t **data, size_t *len, mg_error *err)
{
	*data = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mg_fail(err, MG_ERR_IO, "%s: %s", path, strerror(errno));
	int rc = mg_criu_read_fd(fd, path, MG_CRIU_FILE_MAX, data, len, err);
	close(fd);
	return rc;
}

int mg_criu_check_magic(const char *name, const uint8_t *data, size_t len,
			uint32_t magic, size_t *off, mg_error *err)
{
	if (magic == MG_CRIU_INVENTORY_MAGIC) {
		if (len < 4)
			return mg_fail(err, MG_ERR_IO, "%s: truncated (no magic)", name);
		if (get_le32(data) != magic)
			return mg_fail(err, MG_ERR_IO, "%s: bad magic 0x%08x (want 0x%08x): not a CRIU inventory image",
				       name, get_le32(data), magic);
		*off = 4;
		return 0;
	}
	if (len < 8)
		return mg_fail(err, MG_ERR_IO, "%s: truncated (no magic)", name);
	uint32_t head = get_le32(data), type = get_le32(data + 4);
	if (head != MG_CRIU_IMG_COMMON_MAGIC && head != MG_CRIU_IMG_SERVICE_MAGIC)
		return mg_fail(err, MG_ERR_IO, "%s: bad magic 0x%08x: not a CRIU image", name, head);
	if (type != magic)
		return mg_fail(err, MG_ERR_IO, "%s: image magic 0x%08x, expected 0x%08x (wrong image type)",
			       name, type, magic);
	*off = 8;
	return 0;
}

int mg_criu_next_message(const char *name, const uint8_t *data, size_t len,
			 size_t *off, const uint8_t **msg, size_t *msg_len,
			 mg_error *err)
{
	if (*off > len)
		return mg_fail(err, MG_ERR_INTERNAL, "%s: offset beyond the end", name);
	size_t left = len - *off;
	if (left == 0)
		return 0;
	if (left < 4)
		return mg_fail(err, MG_ERR_IO, "%s: truncated message length at offset %zu", name, *off);
	uint32_t n = get_le32(data + *off);
	if (n > MG_CRIU_MSG_MAX)
		return mg_fail(err, MG_ERR_IO, "%s: message of %u bytes at offset %zu exceeds the %u-byte limit",
			       name, n, *off, MG_CRIU_MSG_MAX);
	if (n > left - 4)
		return mg_fail(err, MG_ERR_IO, "%s: truncated message at offset %zu (%u bytes announced, %zu left)",
			       name, *off, n, left - 4);
	*msg = data + *off + 4;
	*msg_len = n;
	*off += 4 + (size_t)n;
	return 1;
}

ProtobufCMessage *mg_criu_unpack(const char *name,
				 const ProtobufCMessageDescriptor *desc,
				 const uint8_t *msg, size_t msg_len, mg_error *err)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, msg_len, msg);
	if (m == NULL)
		mg_fail(err, MG_ERR_IO, "%s: malformed %s message", name, desc->name);
	return m;
}

int mg_criu_parse_image_mem(const char *name, const uint8_t *data, size_t len,
			    mg_error *err)
{
	static const struct {
		uint32_t magic;
		const ProtobufCMessageDescriptor *first, *rest;
	} types[] = {
		{ MG_CRIU_INVENTORY_MAGIC, &inventory_entry__descriptor, &inventory_entry__descriptor },
		{ MG_CRIU_PSTREE_MAGIC, &pstree_entry__descriptor, &pstree_entry__descriptor },
		{ MG_CRIU_CORE_MAGIC, &core_entry__descriptor, &core_entry__descriptor },
		{ MG_CRIU_MM_MAGIC, &mm_entry__descriptor, &mm_entry__descriptor },
		{ MG_CRIU_PAGEMAP_MAGIC, &pagemap_head__descriptor, &pagemap_entry__descriptor },
		{ MG_CRIU_FILES_MAGIC, &file_entry__descriptor, &file_entry__descriptor },
		{ MG_CRIU_CPUINFO_MAGIC, &cpuinfo_entry__descriptor, &cpuinfo_entry__descriptor },
	};
	uint32_t magic;
	if (len >= 4 && get_le32(data) == MG_CRIU_INVENTORY_MAGIC)
		magic = MG_CRIU_INVENTORY_MAGIC;
	else if (len >= 8)
		magic = get_le32(data + 4);
	else
		return mg_fail(err, MG_ERR_IO, "%s: truncated (no magic)", name);
	size_t t;
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		if (types[t].magic == magic)
			break;
	if (t == sizeof(types) / sizeof(types[0]))
		return mg_fail(err, MG_ERR_IO, "%s: unsupported image type 0x%08x", name, magic);
	size_t off;
	if (mg_criu_check_magic(name, data, len, magic, &off, err) < 0)
		return -1;
	int count = 0;
	for (;;) {
		const uint8_t *msg;
		size_t mlen;
		int r = mg_criu_next_message(name, data, len, &off, &msg, &mlen, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return count;
		const ProtobufCMessageDescriptor *d = count == 0 ? types[t].first : types[t].rest;
		ProtobufCMessage *m = mg_criu_unpack(name, d, msg, mlen, err);
		if (m == NULL)
			return -1;
		protobuf_c_message_free_unpacked(m, NULL);
		if (count == 1 << 30)
			return mg_fail(err, MG_ERR_IO, "%s: too many messages", name);
		count++;
	}
}
