/* tokenizer/tokenizer_map.c — arena, string -> id and pair -> merge hash maps for the tokenizer.
 * Open addressing with linear probing; tables stay at most half full. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

#define ARENA_CHUNK (1u << 20)

void *tok_arena_alloc(struct tok_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!a->n_chunks || a->used + n > a->cap) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        char **chunks = realloc(a->chunks, (size_t)(a->n_chunks + 1) * sizeof *chunks);
        if (!chunks)
            return NULL;
        a->chunks = chunks;
        if (!(chunks[a->n_chunks] = malloc(cap)))
            return NULL;
        a->n_chunks++;
        a->used = 0;
        a->cap = cap;
    }
    void *p = a->chunks[a->n_chunks - 1] + a->used;
    a->used += n;
    return p;
}

char *tok_arena_strdup(struct tok_arena *a, const char *s, size_t len)
{
    char *p = tok_arena_alloc(a, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = 0;
    }
    return p;
}

void tok_arena_free(struct tok_arena *a)
{
    for (int i = 0; i < a->n_chunks; i++)
        free(a->chunks[i]);
    free(a->chunks);
    memset(a, 0, sizeof *a);
}

/* FNV-1a, then a final avalanche so the low bits are usable as a table index. */
uint32_t tok_hash(const void *s, size_t len)
{
    const unsigned char *p = s;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    return h;
}

static uint32_t table_size(int expected)
{
    uint32_t n = 16;
    while (n < (uint32_t)expected * 2 + 2)
        n <<= 1;
    return n;
}

int strmap_init(struct strmap *m, int expected)
{
    memset(m, 0, sizeof *m);
    uint32_t n = table_size(expected);
    m->slot = calloc(n, sizeof *m->slot);
    m->cap = expected > 4 ? expected : 4;
    m->e = malloc((size_t)m->cap * sizeof *m->e);
    if (!m->slot || !m->e)
        return -1;
    m->mask = n - 1;
    return 0;
}

static int strmap_grow(struct strmap *m)
{
    uint32_t n = (m->mask + 1) * 2;
    uint32_t *slot = calloc(n, sizeof *slot);
    if (!slot)
        return -1;
    for (int i = 0; i < m->n; i++) {
        uint32_t j = m->e[i].hash & (n - 1);
        while (slot[j])
            j = (j + 1) & (n - 1);
        slot[j] = (uint32_t)i + 1;
    }
    free(m->slot);
    m->slot = slot;
    m->mask = n - 1;
    return 0;
}

int strmap_put(struct strmap *m, const char *s, size_t len, int32_t id)
{
    uint32_t h = tok_hash(s, len);
    uint32_t j = h & m->mask;
    for (; m->slot[j]; j = (j + 1) & m->mask) {
        struct strmap_entry *e = &m->e[m->slot[j] - 1];
        if (e->hash == h && e->len == len && !memcmp(e->s, s, len)) {
            e->id = id;
            return 0;
        }
    }
    if (m->n == m->cap) {
        int cap = m->cap * 2;
        struct strmap_entry *e = realloc(m->e, (size_t)cap * sizeof *e);
        if (!e)
            return -1;
        m->e = e;
        m->cap = cap;
    }
    m->e[m->n] = (struct strmap_entry){s, (uint32_t)len, h, id};
    m->slot[j] = (uint32_t)++m->n;
    if ((uint32_t)m->n * 2 > m->mask)
        return strmap_grow(m);
    return 0;
}

int32_t strmap_get(const struct strmap *m, const char *s, size_t len)
{
    if (!m->slot)
        return -1;
    uint32_t h = tok_hash(s, len);
    for (uint32_t j = h & m->mask; m->slot[j]; j = (j + 1) & m->mask) {
        const struct strmap_entry *e = &m->e[m->slot[j] - 1];
        if (e->hash == h && e->len == len && !memcmp(e->s, s, len))
            return e->id;
    }
    return -1;
}

void strmap_free(struct strmap *m)
{
    free(m->slot);
    free(m->e);
    memset(m, 0, sizeof *m);
}

int pairmap_init(struct pairmap *m, int expected)
{
    uint32_t n = table_size(expected);
    m->slot = calloc(n, sizeof *m->slot);
    m->mask = n - 1;
    m->n = 0;
    return m->slot ? 0 : -1;
}

/* Later entries overwrite earlier ones, as HF's HashMap collect does for duplicate merges. */
int pairmap_put(struct pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t id)
{
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    uint64_t i = h >> 20 & m->mask;
    for (; m->slot[i].key; i = (i + 1) & m->mask)
        if (m->slot[i].key == key)
            break;
    if (!m->slot[i].key)
        m->n++;
    m->slot[i] = (struct pairmap_slot){key, rank, id};
    if ((uint64_t)m->n * 2 > m->mask) {
        uint64_t n = (m->mask + 1) * 2;
        struct pairmap_slot *slot = calloc(n, sizeof *slot);
        if (!slot)
            return -1;
        for (uint64_t k = 0; k <= m->mask; k++) {
            if (!m->slot[k].key)
                continue;
            uint64_t j = (m->slot[k].key * 0x9E3779B97F4A7C15ull) >> 20 & (n - 1);
            while (slot[j].key)
                j = (j + 1) & (n - 1);
            slot[j] = m->slot[k];
        }
        free(m->slot);
        m->slot = slot;
        m->mask = n - 1;
    }
    return 0;
}

void pairmap_free(struct pairmap *m)
{
    free(m->slot);
    memset(m, 0, sizeof *m);
}
