/* Unit tests of the interning store (shim/intern.c), linked directly. */
#include "intern.h"
#include "unit.h"

#include <pthread.h>
#include <string.h>

static void fill_stack(uintptr_t *ips, int n, uintptr_t seed)
{
    for (int i = 0; i < n; i++)
        ips[i] = 0x555500000000ull + seed * 0x1000 + (uintptr_t)i * 0x40;
}

static void test_unset(void)
{
    struct fdl_intern s;
    memset(&s, 0, sizeof s);
    uintptr_t ips[4] = {1, 2, 3, 4};
    uint32_t len = 99;
    EXPECT_EQ(fdl_intern_put(&s, ips, sizeof ips), 0);
    EXPECT(fdl_intern_get(&s, 0, &len) == NULL);
    EXPECT(fdl_intern_get(&s, 1, &len) == NULL);
}

static void test_dedup(void)
{
    struct fdl_intern s;
    EXPECT_EQ(fdl_intern_init(&s, 1024, 1 << 20), 0);
    uintptr_t a[12], b[12], c[11];
    fill_stack(a, 12, 1);
    fill_stack(b, 12, 1);
    fill_stack(c, 11, 1); /* a prefix of a: different */
    uint32_t ia = fdl_intern_put(&s, a, sizeof a);
    uint32_t ib = fdl_intern_put(&s, b, sizeof b);
    uint32_t ic = fdl_intern_put(&s, c, sizeof c);
    EXPECT(ia != 0);
    EXPECT_EQ(ia, ib);
    EXPECT(ic != 0 && ic != ia);
    EXPECT_EQ(s.count, 2);
    b[5] ^= 1;
    uint32_t ib2 = fdl_intern_put(&s, b, sizeof b);
    EXPECT(ib2 != 0 && ib2 != ia && ib2 != ic);
    EXPECT_EQ(fdl_intern_put(&s, a, sizeof a), ia);
    uint32_t len = 0;
    const void *p = fdl_intern_get(&s, ia, &len);
    EXPECT(p != NULL);
    EXPECT_EQ(len, sizeof a);
    EXPECT(p && memcmp(p, a, sizeof a) == 0);
    p = fdl_intern_get(&s, ib2, &len);
    EXPECT(p && len == sizeof b && memcmp(p, b, sizeof b) == 0);
    EXPECT(fdl_intern_get(&s, 0, &len) == NULL);
    EXPECT(fdl_intern_get(&s, 1000000, &len) == NULL);
    /* strings (paths) of odd lengths */
    const char *paths[] = {"/etc/hostname", "/etc/hostnam", "x", "/tmp/a/b/c/d/e/f/g"};
    uint32_t ids[4];
    for (int i = 0; i < 4; i++) {
        ids[i] = fdl_intern_put(&s, paths[i], (uint32_t)strlen(paths[i]));
        EXPECT(ids[i] != 0);
    }
    for (int i = 0; i < 4; i++) {
        EXPECT_EQ(fdl_intern_put(&s, paths[i], (uint32_t)strlen(paths[i])), ids[i]);
        for (int j = 0; j < i; j++)
            EXPECT(ids[i] != ids[j]);
        p = fdl_intern_get(&s, ids[i], &len);
        EXPECT(p && len == strlen(paths[i]) && memcmp(p, paths[i], len) == 0);
    }
    /* empty entry */
    uint32_t ie = fdl_intern_put(&s, a, 0);
    EXPECT(ie != 0);
    EXPECT_EQ(fdl_intern_put(&s, b, 0), ie);
    EXPECT(fdl_intern_get(&s, ie, &len) != NULL && len == 0);
    EXPECT_EQ(s.full, 0);
}

static void test_many(void)
{
    struct fdl_intern s;
    EXPECT_EQ(fdl_intern_init(&s, 5000, 8 << 20), 0);
    static uint32_t ids[4000];
    uintptr_t st[16];
    for (int i = 0; i < 4000; i++) {
        fill_stack(st, 1 + i % 16, (uintptr_t)i);
        ids[i] = fdl_intern_put(&s, st, (uint32_t)((1 + i % 16) * sizeof st[0]));
        EXPECT(ids[i] != 0);
    }
    EXPECT_EQ(s.count, 4000);
    int bad = 0;
    for (int i = 0; i < 4000; i++) {
        fill_stack(st, 1 + i % 16, (uintptr_t)i);
        uint32_t len;
        const void *p = fdl_intern_get(&s, ids[i], &len);
        if (!p || len != (1 + i % 16) * sizeof st[0] || memcmp(p, st, len) != 0 ||
            fdl_intern_put(&s, st, len) != ids[i])
            bad++;
    }
    EXPECT_EQ(bad, 0);
}

static void test_full(void)
{
    /* a tiny arena: fills after a few entries; then put returns 0 and counts the refusal,
     * while entries already stored stay readable and findable */
    struct fdl_intern s;
    EXPECT_EQ(fdl_intern_init(&s, 1024, 256), 0);
    uintptr_t st[8];
    uint32_t first = 0, zero_at = 0;
    int stored = 0;
    for (int i = 0; i < 100; i++) {
        fill_stack(st, 8, (uintptr_t)i + 1);
        uint32_t id = fdl_intern_put(&s, st, sizeof st);
        if (i == 0)
            first = id;
        if (id == 0) {
            zero_at = (uint32_t)i;
            break;
        }
        stored++;
    }
    EXPECT(first != 0);
    EXPECT(zero_at > 0);
    EXPECT(stored >= 1 && stored < 100);
    EXPECT(s.full >= 1);
    fill_stack(st, 8, 1);
    EXPECT_EQ(fdl_intern_put(&s, st, sizeof st), first);
    uint32_t len;
    EXPECT(fdl_intern_get(&s, first, &len) != NULL && len == sizeof st);
    fill_stack(st, 8, 5000);
    EXPECT_EQ(fdl_intern_put(&s, st, sizeof st), 0);

    /* a tiny table: entries refused once the table is (half) full */
    struct fdl_intern t;
    EXPECT_EQ(fdl_intern_init(&t, 4, 1 << 20), 0);
    int got = 0, refused = 0;
    for (int i = 0; i < 64; i++) {
        fill_stack(st, 4, (uintptr_t)i + 7);
        if (fdl_intern_put(&t, st, 4 * sizeof st[0]))
            got++;
        else
            refused++;
    }
    EXPECT(got >= 4);
    EXPECT(refused > 0);
    EXPECT_EQ(t.full, refused);
}

#define THREADS 4
#define DISTINCT 500
static struct fdl_intern shared;
static uint32_t thread_ids[THREADS][DISTINCT];

static void *inserter(void *arg)
{
    int id = (int)(long)arg;
    uintptr_t st[20];
    for (int round = 0; round < 20; round++)
        for (int k = 0; k < DISTINCT; k++) {
            /* overlapping sets, different orders per thread */
            int i = (id % 2) ? DISTINCT - 1 - k : (k * 7 + id) % DISTINCT;
            fill_stack(st, 4 + i % 16, (uintptr_t)i);
            uint32_t got = fdl_intern_put(&shared, st, (uint32_t)((4 + i % 16) * sizeof st[0]));
            if (round == 0)
                thread_ids[id][i] = got;
            else if (got != thread_ids[id][i])
                thread_ids[id][i] = 0;
        }
    return NULL;
}

static void test_concurrent(void)
{
    EXPECT_EQ(fdl_intern_init(&shared, 4096, 4 << 20), 0);
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, inserter, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    int bad = 0;
    for (int i = 0; i < DISTINCT; i++) {
        for (int th = 0; th < THREADS; th++)
            if (thread_ids[th][i] == 0 || thread_ids[th][i] != thread_ids[0][i])
                bad++;
        for (int j = 0; j < i; j++)
            if (thread_ids[0][j] == thread_ids[0][i])
                bad++;
    }
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(shared.count, DISTINCT);
    EXPECT_EQ(shared.full, 0);
}

static void test_hash(void)
{
    uintptr_t a[8], b[8];
    fill_stack(a, 8, 3);
    fill_stack(b, 8, 3);
    EXPECT_EQ(fdl_hash(a, sizeof a), fdl_hash(b, sizeof b));
    b[7]++;
    EXPECT(fdl_hash(a, sizeof a) != fdl_hash(b, sizeof b));
    EXPECT(fdl_hash(a, sizeof a) != fdl_hash(a, sizeof a - 8));
    EXPECT(fdl_hash("abc", 3) != fdl_hash("abd", 3));
}

int main(void)
{
    RUN(test_unset);
    RUN(test_hash);
    RUN(test_dedup);
    RUN(test_many);
    RUN(test_full);
    RUN(test_concurrent);
    return UNIT_RESULT();
}
