/*
 * fuzz_archive.c - libFuzzer target: a container checkpoint archive from
 * memory (criu_archive.c).
 *
 * Exercises libarchive's tar reading through our member handling (names,
 * hard links, deleted.files JSON, the in-memory limit), the image reader
 * over the archive's images (pstree, core, mm, pagemap, files: the same
 * parser as for a directory), and the rootfs-diff.tar index and
 * extraction through mapped-file lookups.  fuzz/smoke.sh seeds it with a
 * small archive in the documented layout.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "process/criu_files.h"
#include "process/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mg_error err = { 0 };
	mg_criu_files *f = NULL;
	/* 64 MiB in memory at most: a decompression bomb is an error. */
	if (mg_criu_files_open_archive_mem(data, size, "fuzz.tar", "/", 64u << 20, &f, &err) != 0)
		return 0;
	static const char *paths[] = { "/bin/true", "/usr/lib/x86_64-linux-gnu/libc.so.6",
				       "/etc/hostname", "../x" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int fd = mg_criu_files_open_mapped(f, paths[i]);
		if (fd >= 0)
			close(fd);
	}
	mg_task *tasks = NULL;
	size_t n = 0;
	if (mg_criu_list_tasks_files(f, &tasks, &n, &err) == 0 && n > 0) {
		mg_image *img = NULL;
		if (mg_criu_open_task_files(f, tasks[0].pid, &img, &err) == 0)
			mg_image_free(img);
	}
	free(tasks);
	mg_criu_files_free(f);
	return 0;
}
