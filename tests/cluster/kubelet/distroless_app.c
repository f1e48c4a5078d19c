/*
 * The one file of the `distroless.local/app` test image: a static launcher with a static busybox
 * appended to it (then the busybox's size as 8 little-endian bytes). It copies that busybox into
 * a memfd and executes it as "busybox", so `/app sh -c '...'` runs a shell in an image that has no
 * /bin/sh, no tar and no /usr. Busybox alone cannot be the image's /app: it picks its applet from
 * argv[0], and "app" is none.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern char **environ;

static int fail(const char *what) {
  perror(what);
  return 126;
}

int main(int argc, char **argv) {
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) return fail("app: cannot open /proc/self/exe");
  off_t end = lseek(self, 0, SEEK_END);
  uint64_t size = 0;
  if (pread(self, &size, sizeof size, end - (off_t)sizeof size) != (ssize_t)sizeof size) {
    return fail("app: cannot read the appended busybox's size");
  }
  off_t from = end - (off_t)sizeof size - (off_t)size;
  int image = memfd_create("busybox", MFD_CLOEXEC);
  if (image < 0) return fail("app: memfd_create");
  static char buffer[1 << 16];
  for (uint64_t done = 0; done < size;) {
    size_t want = size - done < sizeof buffer ? size - done : sizeof buffer;
    ssize_t got = pread(self, buffer, want, from + (off_t)done);
    if (got <= 0 || write(image, buffer, (size_t)got) != got) {
      return fail("app: cannot copy the appended busybox");
    }
    done += (uint64_t)got;
  }
  char **args = calloc((size_t)argc + 1, sizeof *args);
  if (!args) return fail("app");
  args[0] = "busybox";
  for (int i = 1; i < argc; i++) args[i] = argv[i];
  fexecve(image, args, environ);
  return fail("app: fexecve");
}
