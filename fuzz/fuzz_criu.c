/*
 * fuzz_criu.c - libFuzzer target: one CRIU image file from memory.
 *
 * Exercises the framing (magic words, u32 length prefixes, the message
 * size cap) and the protobuf unpacking of every image type the reader
 * understands; the input's magic picks the type, so the corpus can start
 * from the images of any real dump (tests/criu/dump-workload.sh).
 */
#include <stddef.h>
#include <stdint.h>

#include "process/criu_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mg_error err = { 0 };
	(void)mg_criu_parse_image_mem("fuzz.img", data, size, &err);
	return 0;
}
