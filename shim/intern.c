/* Interning stores (see intern.h): an open-addressing hash table of 64-bit slots over an
 * append-only arena. A new entry is written to the arena first and published by one CAS on
 * its slot, so readers that see the slot see complete bytes. A lost CAS race wastes the
 * arena bytes of one record, which is rare and bounded by the number of racing inserts. */
#include "intern.h"

#include <string.h>
#include <sys/mman.h>

#define REC_HDR 8u /* u32 len, u32 hash */

uint64_t fdl_hash(const void *data, size_t len)
{
    /* Four independent multiply-xor lanes, so the multiplies overlap instead of forming one
     * dependency chain: stacks are arrays of words, and this runs on every capture. */
    const unsigned char *p = data;
    uint64_t a = 0x9e3779b97f4a7c15ull ^ len, b = 0xbf58476d1ce4e5b9ull, c = 0x94d049bb133111ebull,
             d = 0xff51afd7ed558ccdull;
    while (len >= 32) {
        uint64_t w[4];
        memcpy(w, p, 32);
        a = (a ^ w[0]) * 0xff51afd7ed558ccdull;
        b = (b ^ w[1]) * 0xc4ceb9fe1a85ec53ull;
        c = (c ^ w[2]) * 0x9e3779b97f4a7c15ull;
        d = (d ^ w[3]) * 0xbf58476d1ce4e5b9ull;
        a ^= a >> 29;
        b ^= b >> 31;
        c ^= c >> 27;
        d ^= d >> 30;
        p += 32;
        len -= 32;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        a = (a ^ w) * 0xff51afd7ed558ccdull;
        a ^= a >> 29;
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        b = (b ^ w) * 0xc4ceb9fe1a85ec53ull;
    }
    uint64_t h =
        a ^ (b * 0x9e3779b97f4a7c15ull) ^ (c * 0xbf58476d1ce4e5b9ull) ^ (d * 0x94d049bb133111ebull);
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

int fdl_intern_init(struct fdl_intern *s, uint32_t max_entries, uint64_t arena_bytes)
{
    uint64_t nslots = 16;
    while (nslots < (uint64_t)max_entries * 2)
        nslots <<= 1;
    /* MAP_NORESERVE: only touched pages are committed, so a large reservation costs nothing
     * for a process with a handful of stacks. */
    void *slots = mmap(NULL, nslots * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (slots == MAP_FAILED)
        return -1;
    void *arena = mmap(NULL, arena_bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (arena == MAP_FAILED) {
        munmap(slots, nslots * sizeof(uint64_t));
        return -1;
    }
    s->slots = slots;
    s->mask = nslots - 1;
    s->arena = arena;
    s->arena_size = arena_bytes;
    s->used = 8; /* offset 0 is never an id */
    s->count = 0;
    s->full = 0;
    return 0;
}

static int same(const struct fdl_intern *s, uint32_t id, const void *data, uint32_t len)
{
    const char *rec = s->arena + (uint64_t)(id - 1) * 8;
    uint32_t rlen;
    memcpy(&rlen, rec, 4);
    return rlen == len && memcmp(rec + REC_HDR, data, len) == 0;
}

uint32_t fdl_intern_put(struct fdl_intern *s, const void *data, uint32_t len)
{
    if (!s->slots)
        return 0;
    uint64_t h = fdl_hash(data, len);
    uint32_t h32 = (uint32_t)(h >> 32);
    uint64_t i = h & s->mask;
    uint32_t fresh = 0; /* our unpublished record, reused across CAS retries */

    for (uint64_t probes = 0; probes <= s->mask; probes++, i = (i + 1) & s->mask) {
        uint64_t v = __atomic_load_n(&s->slots[i], __ATOMIC_ACQUIRE);
        if (v == 0) {
            if (!fresh) {
                /* Keep the table at most half full: probe chains stay short. */
                if (__atomic_load_n(&s->count, __ATOMIC_RELAXED) >= (s->mask + 1) / 2)
                    break;
                uint64_t need = (REC_HDR + len + 7) & ~7ull;
                uint64_t off = __atomic_fetch_add(&s->used, need, __ATOMIC_RELAXED);
                if (off + need > s->arena_size || off / 8 + 1 > UINT32_MAX)
                    break;
                char *rec = s->arena + off;
                memcpy(rec, &len, 4);
                memcpy(rec + 4, &h32, 4);
                memcpy(rec + REC_HDR, data, len);
                fresh = (uint32_t)(off / 8 + 1);
            }
            uint64_t want = ((uint64_t)h32 << 32) | fresh;
            if (__atomic_compare_exchange_n(&s->slots[i], &v, want, 0, __ATOMIC_RELEASE,
                                            __ATOMIC_ACQUIRE)) {
                __atomic_fetch_add(&s->count, 1, __ATOMIC_RELAXED);
                return fresh;
            }
            /* Lost the race: v now holds the winner; fall through and compare it. */
        }
        if ((uint32_t)(v >> 32) == h32 && same(s, (uint32_t)v, data, len))
            return (uint32_t)v;
    }
    __atomic_fetch_add(&s->full, 1, __ATOMIC_RELAXED);
    return 0;
}

const void *fdl_intern_get(const struct fdl_intern *s, uint32_t id, uint32_t *len)
{
    if (id == 0 || !s->arena)
        return NULL;
    uint64_t off = (uint64_t)(id - 1) * 8;
    if (off + REC_HDR > __atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
        return NULL;
    const char *rec = s->arena + off;
    memcpy(len, rec, 4);
    return rec + REC_HDR;
}
