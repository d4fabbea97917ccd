/*
 * criu_image.h - reading CRIU 4.x checkpoint images (see docs/criu.md).
 *
 * mg_criu_open() (declared in process/image.h) turns an image directory
 * into an mg_image.  This header exposes the lower layers for the tests,
 * the fuzz target and the profile code: the image-file framing (a magic
 * pair followed by u32-length-prefixed protobuf messages) and the
 * `criu cpuinfo dump` reader.
 */
#ifndef MG_PROCESS_CRIU_IMAGE_H
#define MG_PROCESS_CRIU_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "features/profile.h"
#include "process/image.h"
#include "util/error.h"

/* First word of every image but inventory.img (criu/include/magic.h). */
#define MG_CRIU_IMG_COMMON_MAGIC   0x54564319u
#define MG_CRIU_IMG_SERVICE_MAGIC  0x55105940u
/* Per-type magics (second word; inventory.img has only this one). */
#define MG_CRIU_INVENTORY_MAGIC    0x58313116u
#define MG_CRIU_PSTREE_MAGIC       0x50273030u
#define MG_CRIU_CORE_MAGIC         0x55053847u
#define MG_CRIU_MM_MAGIC           0x57492820u
#define MG_CRIU_PAGEMAP_MAGIC      0x56084025u
#define MG_CRIU_FILES_MAGIC        0x56303138u
#define MG_CRIU_CPUINFO_MAGIC      0x61404013u
#define MG_CRIU_MEMFD_INODE_MAGIC  0x48453499u

/* Bounds on untrusted image contents. */
#define MG_CRIU_FILE_MAX     (256u << 20)  /* one protobuf image file, bytes */
#define MG_CRIU_MSG_MAX      (64u << 20)   /* one message */
#define MG_CRIU_VMAS_MAX     (1u << 20)
#define MG_CRIU_THREADS_MAX  (1u << 16)
#define MG_CRIU_TASKS_MAX    (1u << 16)  /* processes in pstree.img */
#define MG_CRIU_PAGEMAP_MAX  (1u << 22)    /* pagemap entries */

/* pagemap_entry.flags (criu/include/pagemap.h). */
#define MG_CRIU_PE_PARENT   (1u << 0)
#define MG_CRIU_PE_LAZY     (1u << 1)
#define MG_CRIU_PE_PRESENT  (1u << 2)

/* vma_entry.status (criu/include/image.h). */
#define MG_CRIU_VMA_AREA_REGULAR   (1u << 0)
#define MG_CRIU_VMA_AREA_STACK     (1u << 1)
#define MG_CRIU_VMA_AREA_VSYSCALL  (1u << 2)
#define MG_CRIU_VMA_AREA_VDSO      (1u << 3)
#define MG_CRIU_VMA_AREA_HEAP      (1u << 5)
#define MG_CRIU_VMA_FILE_PRIVATE   (1u << 6)
#define MG_CRIU_VMA_FILE_SHARED    (1u << 7)
#define MG_CRIU_VMA_ANON_SHARED    (1u << 8)
#define MG_CRIU_VMA_ANON_PRIVATE   (1u << 9)
#define MG_CRIU_VMA_AREA_SYSVIPC   (1u << 10)
#define MG_CRIU_VMA_AREA_SOCKET    (1u << 11)
#define MG_CRIU_VMA_AREA_VVAR      (1u << 12)
#define MG_CRIU_VMA_AREA_AIORING   (1u << 13)
#define MG_CRIU_VMA_AREA_MEMFD     (1u << 14)
#define MG_CRIU_VMA_AREA_SHSTK     (1u << 15)   /* CET shadow stack (CRIU 4.x) */

/* --- image files ------------------------------------------------------------- */

/* Read a whole image file (at most MG_CRIU_FILE_MAX bytes). */
int mg_criu_read_file(const char *path, uint8_t **data, size_t *len, mg_error *err);

/*
 * Check the magic of an image held in memory: inventory.img carries only
 * its type magic, every other image MG_CRIU_IMG_COMMON_MAGIC (or the
 * service magic) and then `magic`.  Sets *off to the first message.
 */
int mg_criu_check_magic(const char *name, const uint8_t *data, size_t len,
			uint32_t magic, size_t *off, mg_error *err);

/*
 * Next message at *off: 1 and (*msg, *msg_len) when there is one, 0 at a
 * clean end of file, -1 (MG_ERR_IO naming `name`) when the length or the
 * message is truncated or longer than MG_CRIU_MSG_MAX.
 */
int mg_criu_next_message(const char *name, const uint8_t *data, size_t len,
			 size_t *off, const uint8_t **msg, size_t *msg_len,
			 mg_error *err);

/* Unpack one message; NULL with MG_ERR_IO naming `name` when malformed.
 * Free with protobuf_c_message_free_unpacked(m, NULL). */
ProtobufCMessage *mg_criu_unpack(const char *name,
				 const ProtobufCMessageDescriptor *desc,
				 const uint8_t *msg, size_t msg_len, mg_error *err);

/*
 * Parse every message of one image held in memory, choosing the message
 * type from its magic (inventory, pstree, core, mm, pagemap, files,
 * cpuinfo).  For the fuzz target and for validating a single file.
 * Returns the number of messages or -1.
 */
int mg_criu_parse_image_mem(const char *name, const uint8_t *data, size_t len,
			    mg_error *err);

/* --- cpuinfo.img ------------------------------------------------------------ */

#define MG_CRIU_CAP_WORDS_MAX 64

typedef struct mg_criu_cpuinfo {
	int vendor;                    /* 0 unknown, 1 Intel, 2 AMD (CRIU's enum) */
	uint32_t family, model, stepping;
	uint32_t capability_ver;       /* 1: 12 words, 2: 19 words */
	uint32_t caps[MG_CRIU_CAP_WORDS_MAX];
	size_t ncaps;
	char *model_id;                /* brand string, NULL if not recorded */
	bool has_xfeatures;
	uint64_t xfeatures_mask;       /* compel's XSAVE mask (see docs/criu.md) */
	bool has_xsave_size, has_xsave_size_max;   /* absent in old images */
	uint32_t xsave_size;           /* CPUID.(0xD,0).EBX */
	uint32_t xsave_size_max;       /* CPUID.(0xD,0).ECX */
} mg_criu_cpuinfo;

/* Does the file start with CRIU's image magic (IMG_COMMON or service)?
 * False when it cannot be read. */
bool mg_criu_is_image_file(const char *path);

/* Read the first x86 entry of a cpuinfo.img (`criu cpuinfo dump`). */
int mg_criu_cpuinfo_read(const char *path, mg_criu_cpuinfo *out, mg_error *err);

/* The same from the image's bytes (`path` names it in messages). */
int mg_criu_cpuinfo_parse(const char *path, const uint8_t *data, size_t len,
			  mg_criu_cpuinfo *out, mg_error *err);
void mg_criu_cpuinfo_free(mg_criu_cpuinfo *ci);

/*
 * CPUID location of compel's capability word `word` (compel's
 * arch/x86 cpu.h: word 0 = CPUID.1:EDX, 4 = CPUID.1:ECX, 9 = CPUID.(7,0):EBX,
 * ...).  False for the words Linux defines itself (2, 3, 5, 7, 8) and
 * beyond the known layout.
 */
bool mg_criu_cap_word_location(unsigned word, uint32_t *leaf, uint32_t *subleaf,
			       mg_cpuid_reg *reg);

/*
 * Read cpuinfo.img into a profile (mg_profile_init is done here): vendor,
 * family/model/stepping, brand, XCR0 (xfeatures_mask), XSAVE sizes, the
 * raw capability words (criu_caps, criu_caps_ver, criu_xfeatures_mask and
 * the criu_has_* flags, verbatim for the CRIU policy), and the features
 * the words decide.  Features in CPUID words compel does not record (e.g.
 * CPUID.(7,1)) are put in `unknown`, never silently absent.
 */
int mg_criu_cpuinfo_load(const char *path, mg_profile *out, mg_error *err);

/* The same from the image's bytes; `origin` names it (profile origin). */
int mg_criu_cpuinfo_load_mem(const char *origin, const uint8_t *data, size_t len,
			     mg_profile *out, mg_error *err);

#endif
