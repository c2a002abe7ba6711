/* The file-system floor of one decision, with no rule logic: read a 1 KB request, write a 2 KB output with
 * tmp + fsync + rename, move the request. Mode "durable": fsync per request; "group": one syncfs() barrier
 * per group of 100, requests moved only after their group's barrier.
 * Usage: floor DIR durable|group   (DIR/incoming holds the requests; DIR/out and DIR/done are created)
 * Prints: requests, seconds, requests/s. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: floor DIR durable|group\n"); return 2; }
    int group = strcmp(argv[2], "group") == 0 ? 100 : 1;
    char path[4096], target[4096];
    snprintf(path, sizeof path, "%s/out", argv[1]); mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/done", argv[1]); mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/incoming", argv[1]);
    DIR *dir = opendir(path);
    if (!dir) { perror(path); return 1; }
    size_t count = 0, capacity = 1024;
    char **names = malloc(capacity * sizeof *names);
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (entry->d_name[0] == '.') continue;
        if (count == capacity) names = realloc(names, (capacity *= 2) * sizeof *names);
        names[count++] = strdup(entry->d_name);
    }
    closedir(dir);
    qsort(names, count, sizeof *names, by_name);
    char request[1024 + 1], output[2048];
    memset(output, 'x', sizeof output);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int root = open(argv[1], O_RDONLY | O_DIRECTORY);
    size_t pending = 0;
    for (size_t i = 0; i < count; i++) {
        snprintf(path, sizeof path, "%s/incoming/%s", argv[1], names[i]);
        int in = open(path, O_RDONLY);
        ssize_t got = read(in, request, 1024);
        close(in);
        if (got < 0) { perror(path); return 1; }
        snprintf(path, sizeof path, "%s/out/.tmp-%s", argv[1], names[i]);
        snprintf(target, sizeof target, "%s/out/%s.out", argv[1], names[i]);
        int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (write(out, output, sizeof output) != (ssize_t)sizeof output) { perror(path); return 1; }
        if (group == 1) fsync(out);
        close(out);
        rename(path, target);
        pending++;
        if (group == 1 || pending == (size_t)group || i + 1 == count) {
            if (group > 1) syncfs(root);
            for (size_t j = i + 1 - pending; j <= i; j++) {
                snprintf(path, sizeof path, "%s/incoming/%s", argv[1], names[j]);
                snprintf(target, sizeof target, "%s/done/%s", argv[1], names[j]);
                rename(path, target);
            }
            pending = 0;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    printf("%zu %.3f %.1f\n", count, seconds, count / seconds);
    return 0;
}
