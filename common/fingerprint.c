/* common/fingerprint.c — see fingerprint.h. */
#include "fingerprint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fnv(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 0x100000001b3ull;
    }
}

void fingerprint_file(const char *path, uint64_t *h)
{
    fnv(h, path, strlen(path) + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        fnv(h, &e, sizeof e);
        if (fd >= 0)
            close(fd);
        return;
    }
    int64_t meta[3] = {(int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec};
    fnv(h, meta, sizeof meta);
    char *buf = malloc(1 << 16);
    size_t left = FINGERPRINT_HEAD_BYTES;
    ssize_t r = 0;
    while (buf && left && (r = read(fd, buf, left < (1 << 16) ? left : (1 << 16))) > 0) {
        fnv(h, buf, (size_t)r);
        left -= (size_t)r;
    }
    free(buf);
    close(fd);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int wanted(const char *name)
{
    size_t n = strlen(name);
    return (n > 12 && !strcmp(name + n - 12, ".safetensors")) || (n > 5 && !strcmp(name + n - 5, ".json"));
}

uint64_t fingerprint_dir(const char *dir)
{
    uint64_t h = FINGERPRINT_SEED;
    DIR *d = opendir(dir);
    if (!d) {
        fingerprint_file(dir, &h);
        return h;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!wanted(e->d_name))
            continue;
        if (n == cap) {
            char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *nn);
            if (!nn)
                break;
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", dir, names[i]) < (int)sizeof p)
            fingerprint_file(p, &h);
        free(names[i]);
    }
    free(names);
    return h;
}
